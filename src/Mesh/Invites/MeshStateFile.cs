using System.Text.Json;
using System.Text.Json.Serialization;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Invites;

/// <summary>One node learned from an invite: its id (community trust unless the config says otherwise) and gossip addresses.</summary>
public sealed record JoinedNode(NodeId Id, IReadOnlyList<string> Gossip);

/// <summary>
/// The local state file (<c>{data}/mesh-state.json</c>, 0600): nodes added by <c>mesh join</c>. Their gossip
/// addresses are joined on start next to <c>mesh.bootstrap</c>. Written atomically (temp file + rename).
/// </summary>
public static class MeshStateFile
{
    /// <summary>
    /// The nodes in the file (none when it does not exist; entries without a valid id are skipped). A path that is not a
    /// regular file is refused before it is opened (a FIFO would make the read wait forever for a writer, a device never
    /// end); that, and a file that is not JSON or cannot be read, throws <see cref="MeshStateException"/>.
    /// </summary>
    public static IReadOnlyList<JoinedNode> Read(string path)
    {
        if (InferenceMesh.Configuration.RegularFile.Problem(path) is { } problem)
        {
            throw new MeshStateException($"The mesh state file {path} {problem}.");
        }

        if (!File.Exists(path))
        {
            return [];
        }

        MeshStateWire? wire;
        try
        {
            wire = JsonSerializer.Deserialize(File.ReadAllBytes(path), MeshStateJsonContext.Default.MeshStateWire);
        }
        catch (JsonException ex)
        {
            throw new MeshStateException($"The mesh state file {path} is not valid JSON: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MeshStateException($"The mesh state file {path} cannot be read: {ex.Message}", ex);
        }

        return [.. (wire?.Joined ?? []).Where(j => j is not null && NodeId.TryParse(j.Id, out _))
            .Select(j => new JoinedNode(NodeId.Parse(j.Id!), [.. (j.Gossip ?? []).Where(g => !string.IsNullOrEmpty(g))]))];
    }

    /// <summary>Adds (or replaces, by id) a node; returns true when it was new. Throws <see cref="MeshStateException"/> as <see cref="Read"/> does.</summary>
    public static bool Add(string path, InviteToken invite)
    {
        var nodes = Read(path).ToList();
        var isNew = nodes.RemoveAll(n => n.Id.Equals(invite.Id)) == 0;
        nodes.Add(new JoinedNode(invite.Id, invite.Gossip));
        var wire = new MeshStateWire { Joined = [.. nodes.Select(n => new JoinedWire { Id = n.Id.ToString(), Gossip = [.. n.Gossip] })] };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temp, options))
        {
            JsonSerializer.Serialize(stream, wire, MeshStateJsonContext.Default.MeshStateWire);
        }

        File.Move(temp, path, overwrite: true);
        return isNew;
    }
}

/// <summary>The state file cannot be read (not a regular file, not JSON, unreadable); the message is one line naming it.</summary>
public sealed class MeshStateException(string message, Exception? inner = null) : Exception(message, inner);

internal sealed class MeshStateWire
{
    [JsonPropertyName("joined")] public JoinedWire[]? Joined { get; set; }
}

internal sealed class JoinedWire
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("gossip")] public string[]? Gossip { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(MeshStateWire))]
internal sealed partial class MeshStateJsonContext : JsonSerializerContext;

[JsonSerializable(typeof(InviteWire))]
internal sealed partial class InviteJsonContext : JsonSerializerContext;
