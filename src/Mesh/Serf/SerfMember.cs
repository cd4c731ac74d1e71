using System.Net;

namespace InferenceMesh.Mesh.Serf;

/// <summary>A member as serf's RPC reports it. <see cref="Status"/> is serf's: alive, leaving, left, failed (or none).</summary>
public sealed record SerfMember(string Name, IPAddress Address, int Port, IReadOnlyDictionary<string, string> Tags, string Status);

/// <summary>A membership event from serf's <c>stream</c> command: member-join, -leave, -failed, -update or -reap.</summary>
public sealed record SerfMemberEvent(string Event, IReadOnlyList<SerfMember> Members);

/// <summary>Expected RPC failures as values (the agent is down, refused our key, answered with an error).</summary>
public enum SerfRpcError
{
    None,
    ConnectFailed,
    HandshakeFailed,
    AuthFailed,
    CommandFailed,
    ConnectionLost,
}
