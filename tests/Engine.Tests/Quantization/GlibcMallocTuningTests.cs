using InferenceMesh.Engine.Quantization;
using Xunit;

namespace InferenceMesh.Engine.Tests.Quantization;

public sealed class GlibcMallocTuningTests
{
    [Fact]
    public void FixMmapThreshold_OnLinuxWithGlibc_IsAppliedAndStaysApplied()
    {
        Assert.True(OperatingSystem.IsLinux(), "the engine and its tests run on Linux");

        // glibc's mallopt returns 1 on success; a missing or refusing libc reports false.
        Assert.True(GlibcMallocTuning.FixMmapThreshold());
        Assert.True(GlibcMallocTuning.FixMmapThreshold());
    }
}
