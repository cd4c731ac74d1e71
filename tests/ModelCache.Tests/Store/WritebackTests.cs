using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;
using Microsoft.Win32.SafeHandles;

namespace InferenceMesh.ModelCache.Tests.Store;

/// <summary>
/// A model written into the store has its write-out started in steps while it is written (and while a torrent's
/// verified bytes are hashed), so the fsync before the commit finds little left to write.
/// </summary>
public sealed class WritebackTests
{
    [Fact]
    public void The_kernel_takes_the_request_for_a_real_file_and_a_closed_handle_is_skipped()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "blob");
        SafeFileHandle handle;
        using (handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, new byte[1 << 20], 0);
            Assert.True(Writeback.Start(handle, 0, 1 << 20));
        }

        Assert.False(Writeback.Start(handle, 0, 1 << 20));
    }

    [Fact]
    public async Task Writing_starts_write_out_of_each_full_step_behind_it_and_a_restart_starts_over()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "blob.tmp");
        await using var writer = ModelBlobWriter.CreateNew(path);
        var chunk = new byte[1 << 20];
        for (var i = 0; i < 20; i++)
        {
            await writer.WriteAsync(chunk);
        }

        Assert.Equal(2 * Writeback.StepBytes, writer.WritebackStartedThrough);

        writer.Restart();
        Assert.Equal(0, writer.WritebackStartedThrough);
        writer.Write(new byte[Writeback.StepBytes + 5]);
        Assert.Equal(Writeback.StepBytes + 5, writer.WritebackStartedThrough);
    }

    [Fact]
    public async Task Hashing_a_file_another_program_writes_starts_write_out_behind_the_hash()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "download");
        File.WriteAllBytes(path, new byte[3 * Writeback.StepBytes]);
        await using var writer = ModelBlobWriter.OpenForHashing(path);

        await writer.HashExistingAsync(Writeback.StepBytes + 1, null, CancellationToken.None);
        Assert.Equal(Writeback.StepBytes, writer.WritebackStartedThrough);
        await writer.HashExistingAsync(long.MaxValue, null, CancellationToken.None);
        Assert.Equal(2 * Writeback.StepBytes + 1, writer.WritebackStartedThrough); // steps counted from where the last one ended
    }
}
