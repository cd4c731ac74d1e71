using System.Buffers.Binary;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.Tests;

namespace InferenceMesh.ModelCache.Tests.Catalog;

public sealed class ModelCatalogTests
{
    private readonly ListLogger<ModelCatalog> _log = new();

    [Fact]
    public void MixedFolder_ListsOnlyTheGoodModel_AndReportsEachBadFileOnce()
    {
        var dir = TestPaths.NewTempDir();
        var outside = TestPaths.NewTempDir();
        var stories = File.ReadAllBytes(TestPaths.Stories260K);
        File.WriteAllBytes(Path.Combine(dir, "stories260K.gguf"), stories);
        File.WriteAllBytes(Path.Combine(dir, "truncated.gguf"), stories[..5000]);
        File.WriteAllBytes(Path.Combine(dir, "empty.gguf"), []);
        TestFifo.Create(Path.Combine(dir, "pipe.gguf"));
        var random = new byte[4096];
        new Random(42).NextBytes(random);
        File.WriteAllBytes(Path.Combine(dir, "random.gguf"), random);
        var absurd = stories.ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(absurd.AsSpan(16), long.MaxValue);
        File.WriteAllBytes(Path.Combine(dir, "absurd.gguf"), absurd);
        File.WriteAllBytes(Path.Combine(dir, "evil\nname\u202E.gguf"), stories);
        File.WriteAllBytes(Path.Combine(dir, "notes.txt"), stories);
        Directory.CreateDirectory(Path.Combine(dir, "folder.gguf"));
        File.WriteAllBytes(Path.Combine(outside, "secret.gguf"), stories);
        File.CreateSymbolicLink(Path.Combine(dir, "escape.gguf"), Path.Combine(outside, "secret.gguf"));
        File.CreateSymbolicLink(Path.Combine(dir, "alias.gguf"), Path.Combine(dir, "truncated.gguf"));

        var catalog = new ModelCatalog(new ModelCatalogOptions { Directory = dir }, _log);

        var model = Assert.Single(catalog.Models);
        Assert.Equal("stories260K", model.Id);
        Assert.Equal("llama", model.Architecture);
        Assert.Equal(2048, model.TrainContextLength);
        Assert.Equal("F32", model.Quantization);
        Assert.False(model.HasChatTemplate);
        Assert.Equal(1_185_376, model.SizeBytes);
        Assert.True(model.ParameterCount > 200_000);
        Assert.Same(model, catalog.Find("stories260K"));
        Assert.Null(catalog.Find("truncated"));
        Assert.Null(catalog.Find("STORIES260K"));

        var invalid = catalog.InvalidFiles.ToDictionary(f => f.FileName, f => f.Reason);
        Assert.Equal(
            new[] { "absurd.gguf", "alias.gguf", "empty.gguf", "escape.gguf", "evil\\u000Aname\\u202E.gguf", "pipe.gguf", "random.gguf", "truncated.gguf" },
            invalid.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("kv_count 9223372036854775807 cannot fit", invalid["absurd.gguf"]);
        Assert.Contains("empty file", invalid["empty.gguf"]);
        Assert.Contains("not a regular file (a FIFO, a device or a socket)", invalid["pipe.gguf"]); // was called "empty file"
        Assert.Contains("not a GGUF file", invalid["random.gguf"]);
        Assert.Contains("truncated", invalid["truncated.gguf"]);
        Assert.Contains("truncated", invalid["alias.gguf"]);
        Assert.Contains("outside the models folder", invalid["escape.gguf"]);
        Assert.Contains("not a safe model id", invalid["evil\\u000Aname\\u202E.gguf"]);
        Assert.Equal(8, _log.Count("InvalidModelFile"));
        Assert.DoesNotContain(_log.Entries, e => e.Message.Contains('\n'));

        // A rescan with nothing changed re-reads nothing and logs nothing new.
        var read = catalog.FilesRead;
        catalog.Refresh();
        Assert.Equal(read, catalog.FilesRead);
        Assert.Equal(8, _log.Count("InvalidModelFile"));
        Assert.Single(catalog.Models);
    }

    [Fact]
    public void A_file_name_that_is_not_UTF_8_is_reported_not_dropped()
    {
        var dir = TestPaths.NewTempDir();
        var plain = Path.Combine(dir, "plain.gguf");
        File.Copy(TestPaths.Stories260K, plain);
        // "bad\xFF\xFEname.gguf": Latin-1 bytes, which no .NET string can name, so libc renames it.
        byte[] latin1 = [.. System.Text.Encoding.UTF8.GetBytes(Path.Combine(dir, "bad")), 0xFF, 0xFE, .. "name.gguf\0"u8];
        Assert.Equal(0, NativeFiles.rename([.. System.Text.Encoding.UTF8.GetBytes(plain), 0], latin1));

        var catalog = new ModelCatalog(new ModelCatalogOptions { Directory = dir }, _log);

        Assert.Empty(catalog.Models);
        var invalid = Assert.Single(catalog.InvalidFiles);
        Assert.Equal("bad\uFFFD\uFFFDname.gguf", invalid.FileName);
        Assert.Contains("not valid UTF-8", invalid.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ChangedFile_IsRevalidated_UnchangedFileIsNotReRead()
    {
        var dir = TestPaths.NewTempDir();
        var a = Path.Combine(dir, "a.gguf");
        var b = Path.Combine(dir, "b.gguf");
        File.Copy(TestPaths.Stories260K, a);
        File.Copy(TestPaths.Stories260K, b);
        var catalog = new ModelCatalog(new ModelCatalogOptions { Directory = dir }, _log);
        Assert.Equal(2, catalog.Models.Count);
        Assert.Equal(2, catalog.FilesRead);

        // Corrupt b in place (same length), with a new write time.
        var bytes = File.ReadAllBytes(b);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 1UL << 32);
        File.WriteAllBytes(b, bytes);
        File.SetLastWriteTimeUtc(b, File.GetLastWriteTimeUtc(a).AddMinutes(1));

        Assert.Equal(2, catalog.Models.Count); // nothing rescanned yet
        Assert.Null(catalog.Find("b"));        // Find notices b changed, rescans, and b is gone
        Assert.Equal(3, catalog.FilesRead); // only b was read again
        Assert.Equal("a", Assert.Single(catalog.Models).Id);
        Assert.Contains("tensor_count 4294967296", Assert.Single(catalog.InvalidFiles).Reason);
        Assert.Equal(1, _log.Count("InvalidModelFile"));

        // Repair it: it comes back.
        File.Copy(TestPaths.Stories260K, b, overwrite: true);
        File.SetLastWriteTimeUtc(b, File.GetLastWriteTimeUtc(a).AddMinutes(2));
        catalog.Refresh();
        Assert.Equal(4, catalog.FilesRead);
        Assert.Equal(2, catalog.Models.Count);
        Assert.Empty(catalog.InvalidFiles);
    }

    [Fact]
    public void Find_RescansWhenTheListingChanged()
    {
        var dir = TestPaths.NewTempDir();
        var catalog = new ModelCatalog(new ModelCatalogOptions { Directory = dir }, _log);
        Assert.Empty(catalog.Models);
        File.Copy(TestPaths.Stories260K, Path.Combine(dir, "Tiny.GGUF"));
        Directory.SetLastWriteTimeUtc(dir, Directory.GetLastWriteTimeUtc(dir).AddSeconds(1)); // coarse-clock filesystems

        var found = catalog.Find("Tiny");
        Assert.NotNull(found);
        Assert.Equal(Path.Combine(dir, "Tiny.GGUF"), found.Path);
        Assert.Equal(1, catalog.FilesRead);

        File.Delete(found.Path);
        Directory.SetLastWriteTimeUtc(dir, Directory.GetLastWriteTimeUtc(dir).AddSeconds(2));
        Assert.Null(catalog.Find("Tiny"));
        Assert.Empty(catalog.Models);
    }

    [Fact]
    public void MissingFolder_IsAnEmptyCatalogAndAWarning()
    {
        var dir = Path.Combine(TestPaths.NewTempDir(), "does-not-exist");
        var catalog = new ModelCatalog(new ModelCatalogOptions { Directory = dir }, _log);
        Assert.Empty(catalog.Models);
        Assert.Empty(catalog.InvalidFiles);
        Assert.Null(catalog.Find("x"));
        catalog.Refresh();
        Assert.Equal(1, _log.Count("ModelsFolderMissing"));

        Directory.CreateDirectory(dir);
        File.Copy(TestPaths.Stories260K, Path.Combine(dir, "m.gguf"));
        Assert.NotNull(catalog.Find("m"));
    }

    [Fact]
    public void Options_Defaults()
    {
        var options = new ModelCatalogOptions { Directory = "models" };
        Assert.True(options.RescanOnFind);
        Assert.Same(ModelCache.Gguf.GgufReaderOptions.Default, options.Reader);
        Assert.Equal(16 * 1024 * 1024, options.Reader.MaxStringLength);
        Assert.Equal(1L << 30, options.Reader.MaxArrayElements);
        Assert.Equal(1024, options.Reader.MaxMaterializedArrayElements);
    }

    [Fact]
    public void Options_Invalid_ThrowWithTheReason()
    {
        var e = Assert.Throws<ArgumentException>(() => new ModelCatalogOptions { Directory = " " }.Validate());
        Assert.StartsWith("ModelCatalogOptions.Directory is required.", e.Message);
        e = Assert.Throws<ArgumentException>(() => new ModelCatalogOptions
        {
            Directory = "m",
            Reader = new() { MaxStringLength = 0 },
        }.Validate());
        Assert.StartsWith("ModelCatalogOptions.Reader limits must be positive.", e.Message);
    }

    [Fact]
    public void AddModelCatalog_RegistersASingleton()
    {
        var dir = TestPaths.NewTempDir();
        File.Copy(TestPaths.Stories260K, Path.Combine(dir, "s.gguf"));
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddModelCatalog(dir);
        using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var catalog = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IModelCatalog>(provider);
        Assert.Equal("s", Assert.Single(catalog.Models).Id);
        Assert.Equal(dir, catalog.Directory);
    }

    [Theory]
    [InlineData("llama-3.2-1b-instruct.Q4_K_M", true)]
    [InlineData("модель", true)]
    [InlineData("emoji-😀", true)]
    [InlineData("", false)]
    [InlineData("..", false)]
    [InlineData(" padded", false)]
    [InlineData("a\\b", false)]
    [InlineData("a\u0000b", false)]
    [InlineData("a\u001Bb", false)]
    [InlineData("rtl\u202Eoverride", false)]
    public void SafeIds(string id, bool safe) => Assert.Equal(safe, ModelCatalog.IsSafeId(id));

    [Fact]
    public void LoneSurrogate_IsNotASafeId() => Assert.False(ModelCatalog.IsSafeId("lone" + (char)0xD800 + "surrogate"));
}

internal static class NativeFiles
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    internal static extern int rename(byte[] oldPath, byte[] newPath);
}
