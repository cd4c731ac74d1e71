using System.Runtime.InteropServices;
using InferenceMesh.Engine.Quantization;
using Xunit;

namespace InferenceMesh.Engine.Tests.Quantization;

/// <summary>
/// The quantiser's thresholds, and inside a scope observed through glibc itself: a 24 MiB block comes from the heap
/// (mallinfo2's hblks, the count of blocks that are mappings of their own, does not change). Alone in its collection:
/// a model loaded by a test running beside it would change that count, and a quantisation would end the scope.
/// </summary>
[Collection(nameof(GlibcMallocTuningTests))]
[CollectionDefinition(nameof(GlibcMallocTuningTests), DisableParallelization = true)]
public sealed class GlibcMallocTuningTests
{
    // Under the quantiser's 32 MiB threshold, and larger than what the heap has free after malloc_trim (which keeps
    // freed chunks in the free lists: a block that fits one is never a mapping, whatever the threshold).
    private const int Block = 24 * 1024 * 1024;

    [Fact]
    public void A_quantisation_scope_raises_the_thresholds_and_the_last_scope_puts_them_back()
    {
        Assert.True(OperatingSystem.IsLinux(), "the engine and its tests run on Linux");

        using (GlibcMallocTuning.ForQuantization())
        {
            using (GlibcMallocTuning.ForQuantization())
            {
                Assert.Equal((32 << 20, 512 << 20), GlibcMallocTuning.Thresholds);
                Assert.False(IsOwnMapping(), "inside two scopes, a 24 MiB block comes from the heap");
            }

            Assert.Equal((32 << 20, 512 << 20), GlibcMallocTuning.Thresholds);
            Assert.False(IsOwnMapping(), "one scope is still open");
        }

        // Back to glibc's starting values. (Whether the next 24 MiB block is a mapping depends on the free chunks the
        // heap kept, which malloc_trim discards the pages of but not the chunks: not observable reliably here.)
        Assert.Equal((128 << 10, 128 << 10), GlibcMallocTuning.Thresholds);
    }

    [Fact]
    public void Disposing_a_scope_twice_counts_once()
    {
        using var outer = GlibcMallocTuning.ForQuantization();
        var inner = GlibcMallocTuning.ForQuantization();
        inner.Dispose();
        inner.Dispose();
        Assert.Equal((32 << 20, 512 << 20), GlibcMallocTuning.Thresholds);
        Assert.False(IsOwnMapping());
    }

    private static bool IsOwnMapping()
    {
        var before = mallinfo2().hblks;
        var block = Marshal.AllocHGlobal(Block); // malloc on Linux
        try
        {
            return mallinfo2().hblks == before + 1;
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }

    [DllImport("libc")]
    private static extern MallInfo2 mallinfo2();

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }
}
