using System.Runtime.InteropServices;

namespace InferenceMesh.Engine.Quantization;

/// <summary>
/// Fixes glibc's mmap threshold before quantising. llama_model_quantize allocates and frees buffers of several
/// MiB per tensor; with glibc's default dynamic threshold, a freed buffer of up to 32 MiB raises the threshold so
/// the next ones come from the quantising thread's arena, which (not being the main thread's arena) is grown and
/// trimmed again for every tensor. On a 1.1B-parameter model that doubled the run's system time in about half
/// the runs (2.6 s instead of 1.1 s, Q8_0 6.4 s instead of 4.7 s; llama-quantize, quantising on its main thread,
/// never showed it). A fixed threshold of glibc's own default (128 KiB) keeps every large buffer a fresh mapping:
/// the same system time in every run. Process-wide and harmless for the rest of the process (the .NET heap does
/// not use malloc); applied once, on Linux with glibc only.
/// </summary>
internal static partial class GlibcMallocTuning
{
    private const int M_MMAP_THRESHOLD = -3;
    private const int ThresholdBytes = 128 * 1024;
    private static int s_applied;

    /// <summary>True when the threshold is fixed (now or by an earlier call); false where glibc's mallopt is not available.</summary>
    public static bool FixMmapThreshold()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        if (Volatile.Read(ref s_applied) != 0)
        {
            return s_applied > 0;
        }

        int result;
        try
        {
            result = mallopt(M_MMAP_THRESHOLD, ThresholdBytes) == 1 ? 1 : -1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            result = -1;
        }

        Volatile.Write(ref s_applied, result);
        return result > 0;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
