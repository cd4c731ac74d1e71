using InferenceMesh.ModelCache.Tests;
using InferenceMesh.Router.Policies;
using Microsoft.Extensions.Logging;
using InferenceMesh.Router.Tests.Common;

namespace InferenceMesh.Router.Tests.Policies;

public sealed class RoutingConfigProviderTests : IDisposable
{
    private readonly RouterTestEnvironment _env = new();

    public RoutingConfigProviderTests()
    {
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig);
        _env.CopyRepoDefaultPolicy();
    }

    public void Dispose() => _env.Dispose();

    [Fact]
    public void Reload_picks_up_a_changed_valid_file()
    {
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time);
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig.Replace("quality: 0.95", "quality: 0.6"));

        var result = provider.Reload();

        Assert.True(result.Applied);
        Assert.Empty(result.Errors);
        Assert.Equal(2, provider.Current.Version);
        Assert.Equal(0.6, provider.Current.Backends.Single(b => b.Name == "cloud-a").Quality);
    }

    [Fact]
    public void A_reload_to_a_policy_that_lets_private_prompts_leave_the_machine_is_applied_and_logged_as_warnings()
    {
        var logger = new ListLogger<RoutingConfigProvider>();
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time, logger);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning); // the default policy
        var policy = _env.WritePolicy(RouterTestEnvironment.LeakyPolicy);

        var result = provider.Reload();

        Assert.True(result.Applied);
        var warnings = logger.Entries.Where(e => e.EventId.Name == "RoutingConfigWarning").ToList();
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Equal($"Routing config version 2: {policy}:3: levels.confidential.allow includes cloud: confidential requests may be sent to cloud backends", warnings[0].Message);
    }

    [Fact]
    public void An_edit_the_yaml_parser_gives_up_on_keeps_the_last_good_snapshot()
    {
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time);
        var good = provider.Current;
        var policyPath = _env.WritePolicy("weights:\n  quality: 0.5\nrules: [a\nl]\n"); // once an unhandled exception

        var result = provider.Reload();

        Assert.False(result.Applied);
        Assert.Same(good, provider.Current);
        var error = Assert.Single(result.Errors);
        Assert.Equal((policyPath, 3), (error.File, error.Line));
        Assert.Contains("not valid YAML", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_policy_nested_too_deep_keeps_the_last_good_snapshot_instead_of_overflowing_the_stack()
    {
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time);
        var good = provider.Current;
        // 200,000 nested lists overflowed the representation model's recursion: the process aborted.
        var policyPath = _env.WritePolicy("name: deep\nlevels:\n  public: " + new string('[', 200_000) + new string(']', 200_000) + "\n");

        var result = provider.Reload();

        Assert.False(result.Applied);
        Assert.Same(good, provider.Current);
        var error = Assert.Single(result.Errors);
        Assert.Equal((policyPath, 3), (error.File, error.Line));
        Assert.Contains("nested deeper than 32 levels", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_policy_replaced_by_a_fifo_keeps_the_last_good_snapshot_instead_of_hanging_the_reload()
    {
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time);
        var good = provider.Current;
        var policyPath = Path.Combine(_env.PoliciesDirectory, "default.yaml");
        File.Delete(policyPath);
        using var fifo = InferenceMesh.Tests.TestFifo.CreateWithWriterWaiting(policyPath);

        var result = provider.Reload();

        Assert.False(result.Applied);
        Assert.Same(good, provider.Current);
        var error = Assert.Single(result.Errors);
        Assert.Equal((policyPath, "policy file is not a regular file (a FIFO, a device or a socket)"), (error.File, error.Reason));
    }

    [Fact]
    public void Broken_edit_keeps_the_last_good_snapshot_and_reports_why()
    {
        using var provider = new RoutingConfigProvider(_env.Load(), _env.Options(), _env.Time);
        var good = provider.Current;
        var policyPath = _env.WritePolicy("weights:\n  quality: 7\n");
        RoutingReloadResult? raised = null;
        provider.Reloaded += (_, r) => raised = r;

        var result = provider.Reload();

        Assert.False(result.Applied);
        Assert.Same(good, provider.Current);
        Assert.Same(good, result.Current);
        var error = Assert.Single(result.Errors);
        Assert.Equal((policyPath, 2), (error.File, error.Line));
        Assert.Contains("weights.quality must be from 0 to 1 (got 7)", error.Reason);
        Assert.Equal(result.Errors, provider.LastErrors);
        Assert.Same(result, raised);

        // Fixing the file clears the error and applies.
        _env.CopyRepoDefaultPolicy();
        Assert.True(provider.Reload().Applied);
        Assert.Empty(provider.LastErrors);
    }

    [Fact]
    public async Task Watcher_follows_a_policy_that_a_reload_moved_to_another_folder()
    {
        // Only the folders of the start-up files were watched: after a reload to policy: other/p.yaml, edits to that
        // file were never seen until the gateway restarted.
        var options = _env.Options(watch: true) with { ReloadDebounce = TimeSpan.FromMilliseconds(20) };
        var startup = _env.Load();
        var other = Directory.CreateDirectory(Path.Combine(_env.Root, "other")).FullName;
        var policy = Path.Combine(other, "p.yaml");
        File.WriteAllText(policy, "name: moved\n");
        // Written before the provider watches anything, so no event of this write can reload after the edit below.
        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig + "\npolicy: other/p.yaml\n");
        using var provider = new RoutingConfigProvider(startup, options, TimeProvider.System);
        var moved = provider.Reload();
        Assert.True(moved.Applied, string.Join(Environment.NewLine, moved.Errors));
        Assert.Equal("moved", provider.Current.Policy.Name);
        var edited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.Reloaded += (_, r) =>
        {
            if (r.Applied && r.Current.Policy.Name == "edited")
            {
                edited.TrySetResult();
            }
        };

        File.WriteAllText(policy, "name: edited\n");

        // The timeout only bounds a failure; success completes as soon as the event arrives.
        await edited.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("edited", provider.Current.Policy.Name);
    }

    [Fact]
    public async Task Watcher_reloads_a_config_updated_as_kubernetes_updates_a_config_map()
    {
        // A ConfigMap volume: config.yaml -> ..data/config.yaml, ..data -> a timestamped folder. An update writes a new
        // folder and renames a new ..data link over the old one; no event names config.yaml, so it was never reloaded.
        var mount = Directory.CreateDirectory(Path.Combine(_env.Root, "mount")).FullName;
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(mount, "..v1")).FullName, "config.yaml"), RouterTestEnvironment.AcceptanceConfig);
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data"), "..v1");
        var config = Path.Combine(mount, "config.yaml");
        File.CreateSymbolicLink(config, "..data/config.yaml");
        var options = _env.Options(watch: true) with { ConfigPath = config, ReloadDebounce = TimeSpan.FromMilliseconds(20) };
        using var provider = new RoutingConfigProvider(RoutingConfigProvider.LoadInitial(options, _env.Time).Value!, options, TimeProvider.System);
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.Reloaded += (_, r) =>
        {
            if (r.Applied && r.Current.Backends.Any(b => b is { Name: "cloud-a", Quality: 0.5 }))
            {
                applied.TrySetResult();
            }
        };

        File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(mount, "..v2")).FullName, "config.yaml"),
            RouterTestEnvironment.AcceptanceConfig.Replace("quality: 0.95", "quality: 0.5"));
        Directory.CreateSymbolicLink(Path.Combine(mount, "..data_tmp"), "..v2");
        Assert.Equal(0, Rename(Path.Combine(mount, "..data_tmp"), Path.Combine(mount, "..data"))); // rename(2), as kubelet does

        // The timeout only bounds a failure; success completes as soon as the event arrives.
        await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0.5, provider.Current.Backends.Single(b => b.Name == "cloud-a").Quality);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string from,
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string to);

    [Fact]
    public async Task Watcher_reloads_when_a_file_changes()
    {
        var options = _env.Options(watch: true) with { ReloadDebounce = TimeSpan.FromMilliseconds(20) };
        using var provider = new RoutingConfigProvider(_env.Load(), options, TimeProvider.System);
        var applied = new TaskCompletionSource<RoutingReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.Reloaded += (_, r) =>
        {
            if (r.Applied && r.Current.Backends.Any(b => b is { Name: "cloud-a", Quality: 0.5 }))
            {
                applied.TrySetResult(r);
            }
        };

        _env.WriteConfig(RouterTestEnvironment.AcceptanceConfig.Replace("quality: 0.95", "quality: 0.5"));

        // The timeout only bounds a failure; success completes as soon as the event arrives.
        var result = await applied.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Same(result.Current, provider.Current);
    }
}
