using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using InferenceMesh.Mesh.Configuration;
using MessagePack;

namespace InferenceMesh.Mesh.Serf;

/// <summary>
/// A client of serf's msgpack RPC (the agent's <c>-rpc-addr</c>, loopback only). Each request is a header map
/// <c>{Command, Seq}</c>, then a body map for commands that take one; each response is a header map
/// <c>{Seq, Error}</c>, then a body map for commands that return one (handshake, auth, stream, tags, leave
/// return none). Stream events arrive as header + body tagged with the stream's Seq. One reader task
/// dispatches responses by Seq. Thread-safe: writes are serialised.
/// </summary>
public sealed class SerfRpcClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<ulong, Pending> _pending = new();
    private readonly ConcurrentDictionary<ulong, Func<SerfMemberEvent, ValueTask>> _streams = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly Task _reader;
    private long _seq;

    private sealed record Pending(bool HasBody, TaskCompletionSource<(string Error, ReadOnlySequence<byte>? Body)> Completion);

    private SerfRpcClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the connection ends (agent stopped or died).</summary>
    public Task Completion => _reader;

    /// <summary>Connects, handshakes (IPC version 1) and authenticates when <paramref name="authKey"/> is given.</summary>
    public static async Task<(SerfRpcClient? Client, SerfRpcError Error, string? Message)> ConnectAsync(IPEndPoint rpc, string? authKey, CancellationToken cancellationToken)
    {
        var tcp = new TcpClient(rpc.AddressFamily) { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(rpc, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            tcp.Dispose();
            return (null, SerfRpcError.ConnectFailed, ex.SocketErrorCode.ToString());
        }

        // Another process may hold the port (the agent is down and its port was taken): one that never answers must
        // not keep the caller waiting for ever.
        var client = new SerfRpcClient(tcp);
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ready.CancelAfter(MeshDefaults.RpcReadyTimeout);
        try
        {
            var handshake = await client.CallAsync("handshake", (ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("Version"); w.Write(1); }, false, ready.Token).ConfigureAwait(false);
            if (handshake.Error is { Length: > 0 } he)
            {
                await client.DisposeAsync().ConfigureAwait(false);
                return (null, SerfRpcError.HandshakeFailed, he);
            }

            if (authKey is not null)
            {
                var auth = await client.CallAsync("auth", (ref MessagePackWriter w) => { w.WriteMapHeader(1); w.Write("AuthKey"); w.Write(authKey); }, false, ready.Token).ConfigureAwait(false);
                if (auth.Error is { Length: > 0 } ae)
                {
                    await client.DisposeAsync().ConfigureAwait(false);
                    return (null, SerfRpcError.AuthFailed, ae);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            return (null, SerfRpcError.HandshakeFailed, $"{rpc} did not answer serf's handshake within {MeshDefaults.RpcReadyTimeout.TotalSeconds} s");
        }

        return (client, SerfRpcError.None, null);
    }

    public async Task<(IReadOnlyList<SerfMember> Members, string? Error)> MembersAsync(CancellationToken cancellationToken)
    {
        var (error, body) = await CallAsync("members", null, true, cancellationToken).ConfigureAwait(false);
        if (error.Length > 0 || body is null)
        {
            return ([], error.Length > 0 ? error : "no body");
        }

        return (ParseMembersBody(body.Value), null);
    }

    /// <summary>Joins the given gossip addresses; returns how many answered.</summary>
    public async Task<(int Joined, string? Error)> JoinAsync(IReadOnlyList<string> addresses, CancellationToken cancellationToken)
    {
        var (error, body) = await CallAsync("join", (ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write("Existing");
            w.WriteArrayHeader(addresses.Count);
            foreach (var a in addresses)
            {
                w.Write(a);
            }

            w.Write("Replay");
            w.Write(false);
        }, true, cancellationToken).ConfigureAwait(false);
        var num = 0;
        if (body is { } b)
        {
            var reader = new MessagePackReader(b);
            var count = reader.ReadMapHeader();
            for (var i = 0; i < count; i++)
            {
                if (reader.ReadString() == "Num")
                {
                    num = reader.ReadInt32();
                }
                else
                {
                    reader.Skip();
                }
            }
        }

        return (num, error.Length > 0 ? error : null);
    }

    /// <summary>Replaces this agent's tags (serf's <c>tags</c> command); members see a member-update.</summary>
    public async Task<string?> SetTagsAsync(IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        var (error, _) = await CallAsync("tags", (ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(2);
            w.Write("Tags");
            w.WriteMapHeader(tags.Count);
            foreach (var (k, v) in tags)
            {
                w.Write(k);
                w.Write(v);
            }

            w.Write("DeleteTags");
            w.WriteArrayHeader(0);
        }, false, cancellationToken).ConfigureAwait(false);
        return error.Length > 0 ? error : null;
    }

    /// <summary>Graceful leave: peers see the member as "left"; the agent then shuts down.</summary>
    public async Task<string?> LeaveAsync(CancellationToken cancellationToken)
    {
        var (error, _) = await CallAsync("leave", null, false, cancellationToken).ConfigureAwait(false);
        return error.Length > 0 ? error : null;
    }

    /// <summary>Subscribes to member events (<c>stream</c> with type member-join,member-leave,member-failed,member-update,member-reap).</summary>
    public async Task<string?> StreamMemberEventsAsync(Func<SerfMemberEvent, ValueTask> onEvent, CancellationToken cancellationToken)
    {
        var seq = (ulong)Interlocked.Increment(ref _seq);
        _streams[seq] = onEvent;
        var (error, _) = await CallAsync("stream", (ref MessagePackWriter w) =>
        {
            w.WriteMapHeader(1);
            w.Write("Type");
            w.Write("member-join,member-leave,member-failed,member-update,member-reap");
        }, false, cancellationToken, seq).ConfigureAwait(false);
        if (error.Length > 0)
        {
            _streams.TryRemove(seq, out _);
            return error;
        }

        return null;
    }

    private async Task<(string Error, ReadOnlySequence<byte>? Body)> CallAsync(string command, SerfBodyWriter? body, bool hasBody, CancellationToken cancellationToken, ulong? fixedSeq = null)
    {
        var seq = fixedSeq ?? (ulong)Interlocked.Increment(ref _seq);
        var pending = new Pending(hasBody, new TaskCompletionSource<(string, ReadOnlySequence<byte>?)>(TaskCreationOptions.RunContinuationsAsynchronously));
        _pending[seq] = pending;
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(2);
        writer.Write("Command");
        writer.Write(command);
        writer.Write("Seq");
        writer.Write(seq);
        writer.Flush();
        if (body is not null)
        {
            var bodyWriter = new MessagePackWriter(buffer);
            body(ref bodyWriter);
            bodyWriter.Flush();
        }

        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
            return await pending.Completion.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException || (ex is OperationCanceledException && _closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested))
        {
            return ("connection lost", null);
        }
        finally
        {
            _pending.TryRemove(seq, out _);
        }
    }

    private async Task ReadLoopAsync()
    {
        using var reader = new MessagePackStreamReader(_stream, leaveOpen: true);
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                var header = await reader.ReadAsync(_closed.Token).ConfigureAwait(false);
                if (header is null)
                {
                    break;
                }

                var (seq, error) = ParseHeader(header.Value);
                if (_pending.TryGetValue(seq, out var pending))
                {
                    ReadOnlySequence<byte>? body = null;
                    if (pending.HasBody)
                    {
                        var read = await reader.ReadAsync(_closed.Token).ConfigureAwait(false);
                        if (read is null)
                        {
                            break;
                        }

                        body = new ReadOnlySequence<byte>(read.Value.ToArray());
                    }

                    pending.Completion.TrySetResult((error, body));
                }
                else if (_streams.TryGetValue(seq, out var handler))
                {
                    var eventBody = await reader.ReadAsync(_closed.Token).ConfigureAwait(false);
                    if (eventBody is null)
                    {
                        break;
                    }

                    var memberEvent = ParseEvent(eventBody.Value);
                    if (memberEvent is not null)
                    {
                        await handler(memberEvent).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or MessagePackSerializationException or EndOfStreamException)
        {
            // The connection ended; Completion tells the owner.
        }
        finally
        {
            _closed.Cancel();
        }
    }

    private static (ulong Seq, string Error) ParseHeader(ReadOnlySequence<byte> bytes)
    {
        var reader = new MessagePackReader(bytes);
        ulong seq = 0;
        var error = "";
        var count = reader.ReadMapHeader();
        for (var i = 0; i < count; i++)
        {
            switch (reader.ReadString())
            {
                case "Seq": seq = reader.ReadUInt64(); break;
                case "Error": error = reader.TryReadNil() ? "" : reader.ReadString() ?? ""; break;
                default: reader.Skip(); break;
            }
        }

        return (seq, error);
    }

    internal static IReadOnlyList<SerfMember> ParseMembersBody(ReadOnlySequence<byte> bytes)
    {
        var reader = new MessagePackReader(bytes);
        IReadOnlyList<SerfMember> members = [];
        var count = reader.ReadMapHeader();
        for (var i = 0; i < count; i++)
        {
            if (reader.ReadString() == "Members")
            {
                members = ReadMembers(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }

        return members;
    }

    internal static SerfMemberEvent? ParseEvent(ReadOnlySequence<byte> bytes)
    {
        var reader = new MessagePackReader(bytes);
        string? name = null;
        IReadOnlyList<SerfMember> members = [];
        var count = reader.ReadMapHeader();
        for (var i = 0; i < count; i++)
        {
            switch (reader.ReadString())
            {
                case "Event": name = reader.ReadString(); break;
                case "Members": members = ReadMembers(ref reader); break;
                default: reader.Skip(); break;
            }
        }

        return name is null ? null : new SerfMemberEvent(name, members);
    }

    private static List<SerfMember> ReadMembers(ref MessagePackReader reader)
    {
        var list = new List<SerfMember>();
        if (reader.TryReadNil())
        {
            return list;
        }

        var n = reader.ReadArrayHeader();
        for (var m = 0; m < n; m++)
        {
            string name = "", status = "";
            var address = IPAddress.None;
            var port = 0;
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            var fields = reader.ReadMapHeader();
            for (var f = 0; f < fields; f++)
            {
                switch (reader.ReadString())
                {
                    case "Name": name = reader.ReadString() ?? ""; break;
                    case "Status": status = reader.ReadString() ?? ""; break;
                    case "Port": port = reader.ReadInt32(); break;
                    case "Addr": address = ReadAddress(ref reader); break;
                    case "Tags":
                        if (!reader.TryReadNil())
                        {
                            var tagCount = reader.ReadMapHeader();
                            for (var t = 0; t < tagCount; t++)
                            {
                                var key = reader.ReadString() ?? "";
                                tags[key] = reader.ReadString() ?? "";
                            }
                        }

                        break;
                    default: reader.Skip(); break;
                }
            }

            list.Add(new SerfMember(name, address, port, tags, status));
        }

        return list;
    }

    /// <summary>Go's net.IP: 4 or 16 bytes, sent as bin (or raw str by old encoders).</summary>
    private static IPAddress ReadAddress(ref MessagePackReader reader)
    {
        if (reader.TryReadNil())
        {
            return IPAddress.None;
        }

        var bytes = reader.NextMessagePackType == MessagePackType.String
            ? reader.ReadStringSequence()
            : reader.ReadBytes();
        if (bytes is not { } seq || seq.Length is not (4 or 16))
        {
            return IPAddress.None;
        }

        var address = new IPAddress(seq.ToArray());
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    public async ValueTask DisposeAsync()
    {
        _closed.Cancel();
        _tcp.Dispose();
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }

        _closed.Dispose();
        _writeLock.Dispose();
    }
}

/// <summary>Writes a request body (the writer is a ref struct, so it is passed by reference).</summary>
public delegate void SerfBodyWriter(ref MessagePackWriter writer);
