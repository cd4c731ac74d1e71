using InferenceMesh.Router.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Router.Policies;

/// <summary>
/// Holds the current <see cref="RoutingSnapshot"/>; watches the config file and the policies folder
/// with <see cref="FileSystemWatcher"/> and reloads after a quiet period (a TimeProvider timer), so a
/// burst of editor writes gives one reload.
/// </summary>
internal sealed partial class RoutingConfigProvider : IRoutingConfigProvider, IDisposable
{
    private readonly RouterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloadLock = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly HashSet<string> _watchedFolders = new(StringComparer.Ordinal);
    private readonly ITimer? _debounce;
    private RoutingSnapshot _current;
    private IReadOnlyList<ConfigError> _lastErrors = [];
    private bool _disposed;

    public RoutingConfigProvider(RoutingSnapshot initial, RouterOptions options, TimeProvider time, ILogger<RoutingConfigProvider>? logger = null)
    {
        _current = initial;
        _options = options;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        LogWarnings(initial);
        if (options.WatchForChanges)
        {
            if (options.ReloadDebounce > TimeSpan.Zero)
            {
                _debounce = time.CreateTimer(static state => ((RoutingConfigProvider)state!).ReloadFromWatcher(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }

            lock (_reloadLock)
            {
                StartWatching(initial.Files);
            }
        }
    }

    public RoutingSnapshot Current => Volatile.Read(ref _current);

    public IReadOnlyList<ConfigError> LastErrors => Volatile.Read(ref _lastErrors);

    public event EventHandler<RoutingReloadResult>? Reloaded;

    /// <summary>Loads at start-up: a valid snapshot, or the errors that must stop start-up.</summary>
    public static LoadResult<RoutingSnapshot> LoadInitial(RouterOptions options, TimeProvider time) =>
        RoutingSnapshotLoader.Load(options, time.GetUtcNow());

    public RoutingReloadResult Reload()
    {
        RoutingReloadResult result;
        lock (_reloadLock)
        {
            var previous = Current;
            var loaded = RoutingSnapshotLoader.Load(_options, _time.GetUtcNow(), previous.Version + 1);
            if (loaded.IsValid)
            {
                Volatile.Write(ref _current, loaded.Value!);
                Volatile.Write(ref _lastErrors, []);
                result = new RoutingReloadResult(true, loaded.Value!, []);
                Log.Reloaded(_logger, loaded.Value!.Policy.Name, loaded.Value.Version, loaded.Value.Backends.Count);
                LogWarnings(loaded.Value);
                if (_options.WatchForChanges && !_disposed)
                {
                    StartWatching(loaded.Value.Files); // a policy the config now names in another folder
                }
            }
            else
            {
                Volatile.Write(ref _lastErrors, loaded.Errors);
                result = new RoutingReloadResult(false, previous, loaded.Errors);
                foreach (var error in loaded.Errors)
                {
                    Log.ReloadRejected(_logger, error.File, error.Line, error.Column, error.Reason, previous.Version);
                }
            }
        }

        Reloaded?.Invoke(this, result);
        return result;
    }

    /// <summary>What is valid but probably a mistake (or against the privacy promise): said once per snapshot.</summary>
    private void LogWarnings(RoutingSnapshot snapshot)
    {
        foreach (var warning in snapshot.Warnings)
        {
            Log.ConfigWarning(_logger, snapshot.Version, warning.File, warning.Line, warning.Reason);
        }
    }

    public void Dispose()
    {
        List<FileSystemWatcher> watchers;
        lock (_reloadLock)
        {
            _disposed = true; // no reload adds a watcher after this
            watchers = [.. _watchers];
        }

        // Outside the lock: a watcher's callback may be waiting for it.
        foreach (var watcher in watchers)
        {
            watcher.Dispose();
        }

        _debounce?.Dispose();
    }

    /// <summary>Watches the folders of <paramref name="files"/> not watched yet. Called under the reload lock.</summary>
    private void StartWatching(IReadOnlyList<string> files)
    {
        // One watcher per folder; the policies folder is watched even when the built-in policy is in use, so adding default.yaml takes effect.
        foreach (var folder in files.Select(Path.GetDirectoryName).Append(Path.GetFullPath(_options.PoliciesDirectory)).Distinct(StringComparer.Ordinal))
        {
            if (folder is null || _watchedFolders.Contains(folder) || !Directory.Exists(folder))
            {
                continue;
            }

            _watchedFolders.Add(folder);

            var watcher = new FileSystemWatcher(folder)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            watcher.Changed += OnFileEvent;
            watcher.Created += OnFileEvent;
            watcher.Deleted += OnFileEvent;
            watcher.Renamed += OnFileEvent;
            watcher.Error += (_, e) => Log.WatcherError(_logger, folder, e.GetException());
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (!IsRelevant(e.FullPath) && !(e is RenamedEventArgs renamed && IsRelevant(renamed.OldFullPath)))
        {
            return;
        }

        if (_debounce is null)
        {
            ReloadFromWatcher();
        }
        else
        {
            _debounce.Change(_options.ReloadDebounce, Timeout.InfiniteTimeSpan);
        }
    }

    private bool IsRelevant(string path)
    {
        var full = Path.GetFullPath(path);
        var files = Current.Files;
        if (files.Contains(full, StringComparer.Ordinal) || files.Any(file => LinksThrough(file, full)))
        {
            return true;
        }

        // A policy file in the policies folder (the config may switch to it on the same reload).
        return string.Equals(Path.GetDirectoryName(full), Path.GetFullPath(_options.PoliciesDirectory), StringComparison.Ordinal)
            && (full.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || full.EndsWith(".yml", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Whether <paramref name="file"/> is a symbolic link whose target lies below <paramref name="changed"/>. Kubernetes
    /// mounts a ConfigMap as <c>NAME -> ..data/NAME</c> and updates it by renaming a new <c>..data</c> link into place:
    /// no event names the file itself, so such an update was never reloaded.
    /// </summary>
    private static bool LinksThrough(string file, string changed)
    {
        try
        {
            return File.ResolveLinkTarget(file, returnFinalTarget: false) is { } target
                && target.FullName.StartsWith(changed + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // gone or unreadable meanwhile: the reload says so if it matters
        }
    }

    private void ReloadFromWatcher()
    {
        lock (_reloadLock)
        {
            if (_disposed)
            {
                return;
            }
        }

        try
        {
            Reload();
        }
        catch (Exception ex)
        {
            // A bug, not a bad file (those are values): keep serving with the last good snapshot.
            Log.ReloadFailed(_logger, ex);
        }
    }
}
