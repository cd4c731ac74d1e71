using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Quantization;

/// <summary>
/// glibc's malloc thresholds while llama_model_quantize runs. It allocates and frees buffers of several MiB per tensor
/// (the tensor as F32, the quantised rows) on our quantising thread, whose arena is not the main thread's.
/// <list type="bullet">
/// <item>glibc's default dynamic thresholds: a freed buffer raises the mmap threshold, the next buffers come from
/// that arena, which is grown and trimmed again for every tensor. On a 1.1B-parameter model that doubled the run's
/// system time in about half the runs (2.6 s instead of 1.1 s; llama-quantize, quantising on its main thread, never
/// showed it).</item>
/// <item>A fixed 128 KiB threshold (this class until 2026-12-07): every buffer a fresh mapping, zeroed by page faults
/// for every tensor; steady, but 5-8 % slower than llama-quantize on a 134M model.</item>
/// <item>Now, only while a quantisation runs: mmap threshold 32 MiB (glibc's largest) and trim threshold 512 MiB, so
/// the buffers of one tensor are reused by the next without a fault or a trim. On the benchmark machine (8 and 5
/// alternated runs, 2026-12-07): 134M F16 → Q8_0 1168 ms median against 1210 with the fixed threshold (llama-quantize
/// 1140); 1.1B 7259 against 7816 ms (llama-quantize 6808), system time 2.0 against 2.5 s.</item>
/// </list>
/// The settings are process-wide: when the last quantisation of the process ends, both thresholds go back to 128 KiB
/// (glibc's starting values; a threshold once set stays fixed) and <c>malloc_trim</c> returns what the quantiser kept to
/// the system. Linux with glibc only; elsewhere a no-op.
/// </summary>
internal static partial class GlibcMallocTuning
{
    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;
    private const int DefaultThresholdBytes = 128 * 1024;
    private const int QuantizeMmapThresholdBytes = 32 * 1024 * 1024;
    private const int QuantizeTrimThresholdBytes = 512 * 1024 * 1024;

    private static readonly Lock Gate = new();
    private static int s_active;
    private static (int Mmap, int Trim)? s_thresholds;

    /// <summary>The quantiser's thresholds until the returned scope is disposed (nested and concurrent scopes count).</summary>
    public static IDisposable ForQuantization()
    {
        lock (Gate)
        {
            if (s_active++ == 0)
            {
                TrySet(QuantizeMmapThresholdBytes, QuantizeTrimThresholdBytes);
            }
        }

        return new Scope();
    }

    /// <summary>The mmap and trim thresholds last set (for tests); null before any was set or where mallopt is missing.</summary>
    internal static (int Mmap, int Trim)? Thresholds
    {
        get
        {
            lock (Gate)
            {
                return s_thresholds;
            }
        }
    }

    private static void Leave()
    {
        lock (Gate)
        {
            if (--s_active == 0 && TrySet(DefaultThresholdBytes, DefaultThresholdBytes))
            {
                malloc_trim(0);
            }
        }
    }

    private static bool TrySet(int mmapThreshold, int trimThreshold)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            // glibc's mallopt returns 1 on success.
            if (mallopt(M_MMAP_THRESHOLD, mmapThreshold) == 1 & mallopt(M_TRIM_THRESHOLD, trimThreshold) == 1)
            {
                s_thresholds = (mmapThreshold, trimThreshold);
                return true;
            }

            return false;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);

    private sealed class Scope : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Leave();
            }
        }
    }
}
