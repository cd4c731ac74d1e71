namespace InferenceMesh.Gateway.Hosting;

/// <summary>Settings of one gateway process, from the command line. Immutable; validated at start.</summary>
public sealed record GatewayOptions
{
    /// <summary>The folder of *.gguf models. The default value is <see cref="GatewayDefaults.ModelsDirectory"/>.</summary>
    public string ModelsDirectory { get; init; } = GatewayDefaults.ModelsDirectory();

    /// <summary>Address to listen on: an IP address or "localhost". The default value is "127.0.0.1".</summary>
    public string Host { get; init; } = GatewayDefaults.Host;

    /// <summary>TCP port; 0 picks a free one (tests). The default value is 8080.</summary>
    public int Port { get; init; } = GatewayDefaults.Port;

    /// <summary>CPU threads for decoding; null lets the engine choose. The default value is null.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Whether decoding may drop to one thread while the cores are too busy for <see cref="Threads"/>
    /// (<c>--decode-threads adaptive|fixed</c>). The default value is true (adaptive).
    /// </summary>
    public bool AdaptiveThreads { get; init; } = true;

    /// <summary>Parallel sequences per loaded model; null lets the engine choose (4). The default value is null.</summary>
    public int? Slots { get; init; }

    /// <summary>Context size of one slot, in tokens; null lets the engine choose (the model's training context). The default value is null.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Largest accepted request body, in bytes; larger bodies get 413. The default value is 8 MiB.</summary>
    public long MaxRequestBodyBytes { get; init; } = GatewayDefaults.MaxRequestBodyBytes;

    /// <summary>
    /// Host header values accepted besides loopback names (DNS rebinding defence); "*" accepts any.
    /// The default value is empty: only localhost, 127.0.0.0/8 and [::1].
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>The router's config file (<c>--config FILE</c>: backends, policy name); null serves the local backend only. The default value is null.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>The policies folder (<c>--policies DIR</c>). The default value is <see cref="GatewayDefaults.PoliciesDirectory"/>.</summary>
    public string PoliciesDirectory { get; init; } = GatewayDefaults.PoliciesDirectory();

    /// <summary>
    /// The data folder of the context store (<c>--data DIR</c>: conversations, files, vector stores).
    /// The default value is <see cref="GatewayDefaults.DataDirectory"/>.
    /// </summary>
    public string DataDirectory { get; init; } = GatewayDefaults.DataDirectory();

    /// <summary>Whether conversation history is stored (<c>--no-history</c> turns it off). The default value is true.</summary>
    public bool HistoryEnabled { get; init; } = true;

    /// <summary>
    /// Days conversation items and idle conversations are kept (<c>--history-retention-days N</c>); null keeps them until
    /// deleted. The default value is null.
    /// </summary>
    public int? HistoryRetentionDays { get; init; }

    /// <summary>
    /// Days a stored response (<c>/v1/responses</c> with <c>store</c>) is kept after it was created
    /// (<c>--response-retention-days N</c>); it is never returned after. The default value is 30, as OpenAI keeps them.
    /// </summary>
    public int ResponseRetentionDays { get; init; } = GatewayDefaults.ResponseRetentionDays;

    /// <summary>
    /// The local model that embeds new vector stores' files (<c>--embedding-model NAME</c>); null picks the first model
    /// of the models folder by id. Each store records its model. The default value is null.
    /// </summary>
    public string? EmbeddingModel { get; init; }

    /// <summary>
    /// Where vector stores' chunks and vectors live (<c>--rag-index sqlite|postgres</c>): "sqlite" (sqlite-vec + FTS5 in
    /// the data folder) or "postgres" (PostgreSQL + pgvector; connection string in <see cref="RagPostgresVariable"/>).
    /// The default value is "sqlite".
    /// </summary>
    public string RagIndex { get; init; } = InferenceMesh.Gateway.Rag.RagIndexSelection.Sqlite;

    /// <summary>The environment variable holding the PostgreSQL connection string (<c>--rag-postgres-env</c>). The default value is "INFERENCE_MESH_RAG_POSTGRES".</summary>
    public string RagPostgresVariable { get; init; } = InferenceMesh.ContextStore.Rag.Index.PgVectorDefaults.ConnectionStringVariable;

    /// <summary>The PostgreSQL schema of the index (<c>--rag-postgres-schema</c>). The default value is "inference_mesh".</summary>
    public string RagPostgresSchema { get; init; } = InferenceMesh.ContextStore.Rag.Index.PgVectorDefaults.Schema;

    /// <summary>Largest file accepted by <c>POST /v1/files</c>, in bytes (<c>--max-file-bytes</c>). The default value is 64 MiB.</summary>
    public long MaxFileBytes { get; init; } = InferenceMesh.ContextStore.Rag.RagDefaults.MaxFileBytes;

    /// <summary>Seconds sent in Retry-After when the engine is overloaded. The default value is 1.</summary>
    public int RetryAfterSeconds { get; init; } = GatewayDefaults.RetryAfterSeconds;

    /// <summary>Whether the BitTorrent engine's DHT is on (<c>--torrent-dht true</c>); private torrents never use it. The default value is false.</summary>
    public bool TorrentDht { get; init; }

    /// <summary>The aria2 executable (<c>--aria2c PATH</c>). The default value is "aria2c" (from PATH).</summary>
    public string Aria2Executable { get; init; } = "aria2c";

    /// <summary>The BitTorrent engine (<c>--torrent-engine qbittorrent|aria2</c>). The default value is "qbittorrent".</summary>
    public string TorrentEngine { get; init; } = ModelCache.Torrents.TorrentEngines.QBittorrent;

    /// <summary>
    /// Whether the BitTorrent engine is started in the background when the gateway starts (<c>--torrent-engine-start
    /// eager</c>), so the first share or pull does not wait for it; otherwise (<c>on-demand</c>) it starts on first use,
    /// or at start when saved shares are to be seeded. Not the default: an engine opens a peer port on every interface
    /// and costs a process on every gateway, also those that never distribute models. The default value is false (on-demand).
    /// </summary>
    public bool TorrentEngineEagerStart { get; init; }

    /// <summary>The qbittorrent-nox executable (<c>--qbittorrent-nox PATH</c>). The default value is "qbittorrent-nox" (from PATH).</summary>
    public string QBittorrentExecutable { get; init; } = "qbittorrent-nox";

    /// <summary>The piece size of shared torrents in KiB (<c>--torrent-piece-kib N</c>); 0 chooses (16 MiB for v2). The default value is 0.</summary>
    public int TorrentPieceKib { get; init; }

    /// <summary>The tracker URL written into shared torrents (<c>--torrent-announce URL</c>); null uses the gateway's own address + /announce. The default value is null.</summary>
    public string? TorrentAnnounceUrl { get; init; }

    /// <summary>Returns null when valid, else a one-line message naming the flag.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelsDirectory))
        {
            return "--models must name a folder.";
        }

        if (ConfigPath is { } config && string.IsNullOrWhiteSpace(config))
        {
            return "--config must name a file.";
        }

        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            return "--data must name a folder.";
        }

        if (string.IsNullOrWhiteSpace(PoliciesDirectory))
        {
            return "--policies must name a folder.";
        }

        if (Port is < 0 or > 65535)
        {
            return $"--port must be from 0 to 65535 (got {Port}).";
        }

        if (!GatewayDefaults.IsListenHost(Host))
        {
            return $"--host must be an IP address or 'localhost' (got '{Host}').";
        }

        if (Threads is < 1 or > GatewayDefaults.MaxThreads)
        {
            return $"--threads must be from 1 to {GatewayDefaults.MaxThreads} (got {Threads}).";
        }

        if (Slots is < 1 or > GatewayDefaults.MaxSlots)
        {
            return $"--slots must be from 1 to {GatewayDefaults.MaxSlots} (got {Slots}).";
        }

        if (ContextLength is < GatewayDefaults.MinContextLength or > GatewayDefaults.MaxContextLength)
        {
            return $"--ctx must be from {GatewayDefaults.MinContextLength} to {GatewayDefaults.MaxContextLength} tokens (got {ContextLength}).";
        }

        if (MaxRequestBodyBytes < GatewayDefaults.MinRequestBodyBytes)
        {
            return $"--max-body-bytes must be at least {GatewayDefaults.MinRequestBodyBytes} (got {MaxRequestBodyBytes}).";
        }

        if (HistoryRetentionDays is < 1 or > GatewayDefaults.MaxHistoryRetentionDays)
        {
            return $"--history-retention-days must be from 1 to {GatewayDefaults.MaxHistoryRetentionDays} (got {HistoryRetentionDays}).";
        }

        if (ResponseRetentionDays is < 1 or > GatewayDefaults.MaxHistoryRetentionDays)
        {
            return $"--response-retention-days must be from 1 to {GatewayDefaults.MaxHistoryRetentionDays} (got {ResponseRetentionDays}).";
        }

        if (EmbeddingModel is { } embeddingModel && string.IsNullOrWhiteSpace(embeddingModel))
        {
            return "--embedding-model must name a model.";
        }

        if (InferenceMesh.Gateway.Rag.RagIndexSelection.Resolve(RagIndex, RagPostgresVariable, RagPostgresSchema).Error is { } ragIndexError)
        {
            return ragIndexError;
        }

        if (MaxFileBytes < 1)
        {
            return $"--max-file-bytes must be at least 1 (got {MaxFileBytes}).";
        }

        if (RetryAfterSeconds < 1)
        {
            return $"Retry-After must be at least 1 second (got {RetryAfterSeconds}).";
        }

        if (TorrentAnnounceUrl is { } announce && !(Uri.TryCreate(announce, UriKind.Absolute, out var announceUri) && announceUri.Scheme is "http" or "https"))
        {
            return $"--torrent-announce must be an http(s) URL (got '{announce}').";
        }

        foreach (var host in AllowedHosts)
        {
            if (string.IsNullOrWhiteSpace(host) || host.Contains('/', StringComparison.Ordinal))
            {
                return $"--allowed-hosts entries must be host names or IP addresses (got '{host}').";
            }
        }

        return null;
    }
}
