using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Hosting;

/// <summary>
/// The gateway started from a folder with many subfolders (a home directory, a repository) does not watch that tree:
/// ASP.NET's default configuration reloads appsettings.json on change, which watches the content root (by default the
/// working directory) recursively, one inotify watch per subfolder.
/// </summary>
public sealed class WorkingDirectoryTests
{
    private const int Subfolders = 64;

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the mesh listener is a second web host
    public async Task The_gateway_does_not_watch_its_working_directory(bool mesh)
    {
        var root = TestPaths.NewTempDir("im-cwd");
        try
        {
            var cwd = Path.Combine(root, "cwd");
            for (var i = 0; i < Subfolders; i++)
            {
                Directory.CreateDirectory(Path.Combine(cwd, $"d{i}", "sub"));
            }

            var models = Path.Combine(root, "models");
            Directory.CreateDirectory(models);
            File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
            string[] args = ["--models", models, "--data", Path.Combine(root, "data"), "--threads", "1"];
            if (mesh)
            {
                var config = Path.Combine(root, "config.yaml");
                File.WriteAllText(config, "mesh:\n  listen: 127.0.0.1:0\n  dataDir: mesh\n");
                args = [.. args, "--config", config];
            }

            using var gateway = await GatewayProcess.StartAsync(args, cwd);
            if (mesh)
            {
                using var http = gateway.Client();
                Assert.Contains("\"enabled\":true", await http.GetStringAsync("/v1/mesh/peers"), StringComparison.Ordinal);
            }


            // One line per watch in the fdinfo of each inotify descriptor. The policies folder is watched (not
            // recursively) on purpose, so a few watches are expected; the working tree alone would be 129.
            Assert.InRange(InotifyWatches(gateway.Id), 0, 8);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static int InotifyWatches(int pid)
    {
        var watches = 0;
        foreach (var info in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            try
            {
                watches += File.ReadLines(info).Count(line => line.StartsWith("inotify ", StringComparison.Ordinal));
            }
            catch (FileNotFoundException)
            {
                // a descriptor closed since the listing (a socket, a pipe): it held no watch we are looking for
            }
        }

        return watches;
    }
}
