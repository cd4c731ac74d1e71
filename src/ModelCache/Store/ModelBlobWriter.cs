using System.Security.Cryptography;

namespace InferenceMesh.ModelCache.Store;

/// <summary>
/// A write-only stream into a temp file of the store that hashes (SHA-256) every byte as it is written, so a file
/// never has to be read again to learn its digest. Get one from <see cref="IModelStore.CreateWriter"/>, write the
/// model, then <see cref="IModelStore.CommitAsync"/> it: only then does it appear under <c>blobs/sha256-&lt;hex&gt;</c>.
/// Disposing an uncommitted writer deletes its temp file. Not thread-safe.
/// </summary>
public sealed class ModelBlobWriter : Stream
{
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _completed;
    private bool _disposed;

    /// <summary>Bytes up to here have had their write-out started (<see cref="Writeback"/>).</summary>
    private long _writebackStarted;

    /// <summary>How far write-out was started (<see cref="Writeback"/>): a multiple of its step, at most <see cref="BytesWritten"/>.</summary>
    internal long WritebackStartedThrough => _writebackStarted;

    private ModelBlobWriter(FileStream file, string path, bool deleteOnDispose)
    {
        _file = file;
        TempPath = path;
        DeleteOnDispose = deleteOnDispose;
    }

    /// <summary>The file being written (in the store, not yet under its final name).</summary>
    public string TempPath { get; }

    /// <summary>Bytes written (and hashed) so far.</summary>
    public long BytesWritten { get; private set; }

    internal bool DeleteOnDispose { get; set; }

    internal bool Committed { get; set; }

    /// <summary>Creates a new temp file (fails if the name exists).</summary>
    internal static ModelBlobWriter CreateNew(string path) =>
        new(new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            BufferSize = 0,
        }), path, deleteOnDispose: true);

    /// <summary>
    /// Opens a partial download for appending: its existing bytes are hashed first (once), then writing continues at the end.
    /// </summary>
    internal static async Task<ModelBlobWriter> OpenAppendAsync(string path, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var writer = OpenForHashing(path);
        try
        {
            await writer.HashExistingAsync(long.MaxValue, progress, cancellationToken).ConfigureAwait(false);
            return writer;
        }
        catch
        {
            await writer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Opens a file another program is still writing (a BitTorrent download) to hash its bytes as they become final,
    /// with <see cref="HashExistingAsync"/>; nothing is read yet.
    /// </summary>
    internal static ModelBlobWriter OpenForHashing(string path) =>
        new(new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite,
            BufferSize = 0,
        }), path, deleteOnDispose: false);

    /// <summary>Reads and hashes the file's bytes from <see cref="BytesWritten"/> up to <paramref name="end"/> (or its end).</summary>
    internal async Task HashExistingAsync(long end, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ThrowIfCompleted();
        _file.Position = BytesWritten;
        var buffer = new byte[StoreDefaults.HashBufferBytes];
        int read;
        while (BytesWritten < end
            && (read = await _file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, end - BytesWritten)), cancellationToken).ConfigureAwait(false)) > 0)
        {
            _hash.AppendData(buffer, 0, read);
            BytesWritten += read;
            StartWriteback();
            progress?.Report(BytesWritten);
        }
    }

    /// <summary>Starts write-out of the bytes added since the last start, once they add up to a step.</summary>
    private void StartWriteback()
    {
        if (BytesWritten - _writebackStarted >= Writeback.StepBytes)
        {
            Writeback.Start(_file.SafeFileHandle, _writebackStarted, BytesWritten - _writebackStarted);
            _writebackStarted = BytesWritten;
        }
    }

    /// <summary>Truncates to zero and restarts the hash (the server sent a whole new body).</summary>
    internal void Restart()
    {
        ThrowIfCompleted();
        _file.SetLength(0);
        _file.Position = 0;
        _hash.GetHashAndReset();
        BytesWritten = 0;
        _writebackStarted = 0;
    }

    /// <summary>Flushes to disk (fsync) and returns the digest and length. No more writes after this.</summary>
    internal (Sha256Digest Digest, long Length) Complete()
    {
        ThrowIfCompleted();
        _file.Flush(flushToDisk: true);
        _completed = true;
        return (Sha256Digest.FromBytes(_hash.GetHashAndReset()), BytesWritten);
    }

    /// <summary>Flushes what was written to disk (for a resumable partial), keeping the writer open.</summary>
    internal void FlushToDisk() => _file.Flush(flushToDisk: true);

    internal void CloseFile() => _file.Dispose();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !_completed && !_disposed;

    public override long Length => BytesWritten;

    public override long Position
    {
        get => BytesWritten;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ThrowIfCompleted();
        _file.Write(buffer);
        _hash.AppendData(buffer);
        BytesWritten += buffer.Length;
        StartWriteback();
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfCompleted();
        await _file.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        _hash.AppendData(buffer.Span);
        BytesWritten += buffer.Length;
        StartWriteback();
    }

    public override void Flush() => _file.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _file.Dispose();
            _hash.Dispose();
            if (DeleteOnDispose && !Committed)
            {
                TryDelete(TempPath);
            }
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private void ThrowIfCompleted()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("The writer was completed; no more bytes can be written.");
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a leftover temp file in blobs/ is deleted by a verify once a day old
        }
    }
}
