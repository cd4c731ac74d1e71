using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Rag.Files;

/// <summary>
/// Uploaded files: content in <c>{data}/files/{id}</c> (the id is generated: a client's file name never becomes a
/// path), metadata and SHA-256 in <c>rag_files</c>. An upload is streamed to a temporary file in the same folder,
/// hashed on the way and renamed into place only when complete and within the size limit.
/// </summary>
public sealed class RagFileStore
{
    public const string FolderName = "files";

    /// <summary>Purposes accepted on upload (OpenAI's names). Only "assistants" and "user_data" files can join vector stores.</summary>
    public static readonly IReadOnlyList<string> Purposes = ["assistants", "user_data", "batch", "fine-tune", "vision", "evals"];

    private readonly ContextDatabase _database;
    private readonly TimeProvider _time;
    private readonly long _maxBytes;

    /// <summary>Staged uploads are named <c>.upload-{guid}</c> in <see cref="Folder"/>.</summary>
    private const string UploadPrefix = ".upload-";

    /// <summary>
    /// An upload streamed to a temporary file, hashed, not yet a file of the store. <paramref name="Lock"/> is the open
    /// (exclusive) handle that tells <see cref="RemoveAbandonedUploads"/> the upload is alive, until it is moved or discarded.
    /// </summary>
    public sealed record StagedUpload(string TemporaryPath, long Bytes, string Sha256, FileStream Lock);

    public RagFileStore(ContextDatabase database, RagOptions options, TimeProvider time)
    {
        _database = database;
        _time = time;
        _maxBytes = options.MaxFileBytes;
        Folder = Path.Combine(database.Options.DataDirectory, FolderName);
        RemoveAbandonedUploads();
        RemoveOrphanContent();
    }

    /// <summary>
    /// Deletes the staged uploads that no one holds any more: those of a process killed in the middle of an upload
    /// (each would otherwise stay on disk forever, up to --max-file-bytes). An upload in progress, in this process or
    /// another on the same data folder (the files CLI), holds its file exclusively and is left alone.
    /// </summary>
    public void RemoveAbandonedUploads()
    {
        if (!Directory.Exists(Folder))
        {
            return;
        }

        foreach (var path in Directory.EnumerateFiles(Folder, UploadPrefix + "*"))
        {
            try
            {
                using var abandoned = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException)
            {
                // held by a live upload, or gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                // not ours to delete
            }
        }
    }

    /// <summary>
    /// Deletes content without a row: what a process killed in <see cref="Commit"/> between moving the upload into
    /// place and inserting its row left (unreachable, and never deleted otherwise). A commit in progress, in this
    /// process or another, still holds the moved file through its staged upload's exclusive handle and is left alone;
    /// the row is looked up again once the file is held, so a commit that finished meanwhile keeps its content.
    /// </summary>
    public void RemoveOrphanContent()
    {
        if (!Directory.Exists(Folder))
        {
            return;
        }

        var known = _database.Read(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT id FROM rag_files;";
            using var reader = command.ExecuteReader();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        });
        foreach (var path in Directory.EnumerateFiles(Folder, "file-*"))
        {
            var id = Path.GetFileName(path);
            if (!IsWellFormedId(id) || known.Contains(id))
            {
                continue;
            }

            try
            {
                using var held = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1);
                if (Find(id) is null)
                {
                    File.Delete(path);
                }
            }
            catch (IOException)
            {
                // held by a commit in progress or a reader, or gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                // not ours to delete
            }
        }
    }

    /// <summary>The folder holding the files' content.</summary>
    public string Folder { get; }

    public long MaxBytes => _maxBytes;

    /// <summary>Stores <paramref name="content"/> as a new file; fails with TooLarge (nothing kept) past the limit.</summary>
    public async Task<RagResult<RagFile>> AddAsync(Stream content, string? fileName, string purpose, CancellationToken cancellationToken)
    {
        if (ValidatePurpose(purpose) is { } purposeError)
        {
            return purposeError;
        }

        var staged = await StageAsync(content, cancellationToken);
        return staged.Error is { } error ? error : Commit(staged.Value!, fileName, purpose);
    }

    /// <summary>Null when <paramref name="purpose"/> is one of <see cref="Purposes"/>.</summary>
    public static RagError? ValidatePurpose(string? purpose) =>
        purpose is not null && Purposes.Contains(purpose, StringComparer.Ordinal)
            ? null
            : RagError.Invalid("purpose", $"'purpose' must be one of {string.Join(", ", Purposes)}.");

    /// <summary>
    /// Streams an upload into a temporary file in the files folder, hashing it on the way; past the size limit it
    /// stops and keeps nothing (TooLarge). <see cref="Commit"/> or <see cref="Discard"/> the result.
    /// </summary>
    public async Task<RagResult<StagedUpload>> StageAsync(Stream content, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Folder);
        var temporary = Path.Combine(Folder, $"{UploadPrefix}{Guid.NewGuid():N}");
        var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        var kept = false;
        try
        {
            long total = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[81920];
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
            {
                total += read;
                if (total > _maxBytes)
                {
                    return new RagError(RagErrorKind.TooLarge,
                        string.Create(CultureInfo.InvariantCulture, $"The file is larger than the limit of {_maxBytes} bytes (--max-file-bytes)."), "file", "file_too_large");
                }

                hash.AppendData(buffer, 0, read);
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            await target.FlushAsync(cancellationToken);
            target.Flush(flushToDisk: true);
            kept = true;
            return new StagedUpload(temporary, total, Convert.ToHexStringLower(hash.GetHashAndReset()), target);
        }
        finally
        {
            if (!kept)
            {
                await target.DisposeAsync();
                File.Delete(temporary);
            }
        }
    }

    /// <summary>Moves a staged upload into place under a new id and records it; the staged file is gone afterwards either way.</summary>
    public RagResult<RagFile> Commit(StagedUpload staged, string? fileName, string? purpose)
    {
        try
        {
            if (ValidatePurpose(purpose) is { } purposeError)
            {
                return purposeError;
            }

            if (CleanFileName(fileName) is not { } label)
            {
                return RagError.Invalid("file", "The uploaded file needs a file name.");
            }

            var file = new RagFile(NewId(), label, purpose!, staged.Bytes, staged.Sha256, _time.GetUtcNow().ToUnixTimeSeconds());
            File.Move(staged.TemporaryPath, PathOf(file.Id));
            try
            {
                _database.Write((connection, transaction) =>
                {
                    using var command = connection.CreateCommand();
                    command.Transaction = transaction;
                    command.CommandText = "INSERT INTO rag_files(id, filename, purpose, bytes, sha256, created_at) VALUES($id, $name, $purpose, $bytes, $sha, $created);";
                    command.Parameters.AddWithValue("$id", file.Id);
                    command.Parameters.AddWithValue("$name", file.FileName);
                    command.Parameters.AddWithValue("$purpose", file.Purpose);
                    command.Parameters.AddWithValue("$bytes", file.Bytes);
                    command.Parameters.AddWithValue("$sha", file.Sha256);
                    command.Parameters.AddWithValue("$created", file.CreatedAt);
                    return command.ExecuteNonQuery();
                });
            }
            catch
            {
                File.Delete(PathOf(file.Id)); // no content without its row
                throw;
            }

            return file;
        }
        finally
        {
            Discard(staged);
        }
    }

    /// <summary>Removes a staged upload that will not be committed.</summary>
    public static void Discard(StagedUpload staged)
    {
        staged.Lock.Dispose();
        if (File.Exists(staged.TemporaryPath))
        {
            File.Delete(staged.TemporaryPath);
        }
    }

    public RagFile? Find(string id) => !IsWellFormedId(id) ? null : _database.Read(connection =>
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, filename, purpose, bytes, sha256, created_at FROM rag_files WHERE id = $id;";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadFile(reader) : null;
    });

    /// <summary>
    /// Files, newest first (or oldest first; ties in upload order), optionally of one purpose, after the cursor
    /// <paramref name="after"/>: a file, or a deleted file's place. Null when <paramref name="after"/> was never a file.
    /// </summary>
    public IReadOnlyList<RagFile>? List(string? purpose, bool ascending, int limit, string? after) => _database.Read(connection =>
    {
        var cursor = ListCursor.Find(connection,
            "SELECT created_at, rowid FROM rag_files WHERE id = $id UNION ALL SELECT created_at, row FROM rag_files_gone WHERE id = $id LIMIT 1;", ("$id", after));
        if (after is not null && cursor is null) return null;
        using var command = connection.CreateCommand();
        var order = ascending ? "ASC" : "DESC";
        var comparison = ascending ? ">" : "<";
        command.CommandText = $"""
            SELECT id, filename, purpose, bytes, sha256, created_at FROM rag_files
            WHERE ($purpose IS NULL OR purpose = $purpose)
              AND ($after IS NULL OR (created_at, rowid) {comparison} ($after, $afterRow))
            ORDER BY created_at {order}, rowid {order} LIMIT $limit;
            """;
        command.Parameters.AddWithValue("$purpose", (object?)purpose ?? DBNull.Value);
        ListCursor.Bind(command, cursor);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var files = new List<RagFile>();
        while (reader.Read())
        {
            files.Add(ReadFile(reader));
        }

        return (IReadOnlyList<RagFile>?)files;
    });

    /// <summary>Opens the content for reading, or null when the file does not exist.</summary>
    public Stream? OpenContent(string id)
    {
        if (Find(id) is null)
        {
            return null;
        }

        try
        {
            return new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 81920, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Removes the row (vector-store memberships go with it) and then the content. True when it existed.</summary>
    internal bool DeleteRow(SqliteConnection connection, SqliteTransaction transaction, string id)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM rag_files WHERE id = $id;";
        command.Parameters.AddWithValue("$id", id);
        return command.ExecuteNonQuery() > 0;
    }

    internal void DeleteContent(string id)
    {
        var path = PathOf(id);
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    /// <summary>The content's path: the folder plus the generated id, which is checked to be of our own form first.</summary>
    public string PathOf(string id)
    {
        if (!IsWellFormedId(id))
        {
            throw new ArgumentException("Not a file id of this store.", nameof(id));
        }

        return Path.Combine(Folder, id);
    }

    /// <summary>"file-" and 24 lowercase hex digits: the only names this store writes.</summary>
    public static bool IsWellFormedId(string? id) =>
        id is { Length: 29 } && id.StartsWith("file-", StringComparison.Ordinal) && id.AsSpan(5).ContainsAnyExcept("0123456789abcdef") is false;

    public static string NewId() => "file-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>
    /// The label kept for a client's file name: the last path segment (either separator), control characters and bidi
    /// controls removed (U+202E in "\u202Egnp.txt" shows it as "txt.png"), at most <see cref="RagDefaults.MaxFileNameLength"/>
    /// characters, never cut between the two halves of a surrogate pair; null when nothing is left.
    /// </summary>
    public static string? CleanFileName(string? fileName)
    {
        if (string.IsNullOrWhiteSpace(fileName))
        {
            return null;
        }

        var last = fileName.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        var builder = new StringBuilder(last.Length);
        foreach (var c in last)
        {
            if (!char.IsControl(c) && !IsBidiControl(c))
            {
                builder.Append(c);
            }
        }

        var clean = builder.ToString().Trim();
        if (clean is "" or "." or "..")
        {
            return null;
        }

        if (clean.Length <= RagDefaults.MaxFileNameLength)
        {
            return clean;
        }

        var cut = char.IsHighSurrogate(clean[RagDefaults.MaxFileNameLength - 1]) ? RagDefaults.MaxFileNameLength - 1 : RagDefaults.MaxFileNameLength;
        return clean[..cut];
    }

    /// <summary>Unicode's explicit directional marks, embeddings, overrides and isolates (the "Trojan Source" characters).</summary>
    private static bool IsBidiControl(char c) => c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    private static RagFile ReadFile(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetString(4), reader.GetInt64(5));
}
