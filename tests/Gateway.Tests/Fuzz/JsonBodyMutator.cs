using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>One mutated body: what was done (for the failure message), its bytes and the Content-Type it is sent with (null: none).</summary>
internal sealed record Mutation(string Description, byte[] Body, string? ContentType);

/// <summary>
/// Structure-aware mutations of a valid JSON body, drawn from a seeded <see cref="Random"/> (same seed, same bodies): a
/// field (at any depth; now and then two or three) given a value of another type, a hostile one or another field's value,
/// removed, repeated, renamed to a hostile key, or a field added; or the whole body broken (cut short, bytes flipped, not
/// JSON, nested too deep, another encoding, another Content-Type). The rest of the body stays as it was, so its small
/// generation limit (max_tokens 1) holds unless a change hits that field.
/// </summary>
internal sealed class JsonBodyMutator(Random random)
{
    public const string Json = "application/json";

    private static readonly string[] WrongContentTypes =
    [
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16",
        "application/json; charset=latin1", "application/xml", "*/*", "application/json; charset=\"", "application/jsonx", "",
    ];

    public Mutation Next(JsonObject valid)
    {
        var roll = random.Next(100);
        return roll switch
        {
            < 70 => FieldMutations(valid),
            < 92 => WholeBodyMutation(Serialize(valid)),
            _ => ContentTypeMutation(Serialize(valid)),
        };
    }

    /// <summary>One field changed, or now and then two or three (what one check lets through, the next may trip on).</summary>
    private Mutation FieldMutations(JsonObject valid)
    {
        var copy = (JsonObject)valid.DeepClone();
        var splices = new List<(byte[] Marker, byte[] Json)>();
        var count = random.Next(100) < 80 ? 1 : random.Next(2, 4);
        var descriptions = new List<string>();
        for (var m = 0; m < count; m++)
        {
            descriptions.Add(MutateOneField(copy, splices));
        }

        var body = Serialize(copy);
        foreach (var (marker, json) in splices)
        {
            body = Splice(body, marker, json);
        }

        return new(string.Join("; ", descriptions), body, Json);
    }

    /// <summary>Changes one field of <paramref name="body"/>; what no JSON writer would write goes in as a marker and its raw bytes into <paramref name="splices"/>.</summary>
    private string MutateOneField(JsonObject body, List<(byte[] Marker, byte[] Json)> splices)
    {
        var slots = Slots(body, "");
        var value = HostileJson.Values[random.Next(HostileJson.Values.Count)];
        var (path, parent, key, index) = slots.Count > 0 ? slots[random.Next(slots.Count)] : ("", body, null, -1);
        string Marker(string kind, byte[] json)
        {
            var marker = $"\u0001{kind}{splices.Count}\u0001";
            splices.Add((Encoding.UTF8.GetBytes(marker), json));
            return marker;
        }

        switch (slots.Count > 0 ? random.Next(12) : 10)
        {
            case 11:
            {
                // A schema where the body holds one (response_format, text.format, a tool's parameters), else anywhere.
                var schemaSlots = slots.Where(slot => slot.Key is "schema" or "parameters" || slot.Path.Contains(".properties.", StringComparison.Ordinal)).ToList();
                var (schemaPath, schemaParent, schemaKey, schemaIndex) = schemaSlots.Count > 0 ? schemaSlots[random.Next(schemaSlots.Count)] : (path, parent, key, index);
                var schema = HostileJson.Schemas[random.Next(HostileJson.Schemas.Count)];
                Set(schemaParent, schemaKey, schemaIndex, Marker("V", schema.Json));
                return $"{schemaPath} = {schema.Name}";
            }

            case < 5:
                Set(parent, key, index, Marker("V", value.Json));
                return $"{path} = {value.Name}";
            case 5:
            {
                // Another value of the same body: a plausible value of the wrong kind (a messages array as a prompt, a name as a number).
                var (otherPath, otherParent, otherKey, otherIndex) = slots[random.Next(slots.Count)];
                var other = Value(otherParent, otherKey, otherIndex)?.DeepClone();
                Set(parent, key, index, other);
                return $"{path} = the value of {otherPath}";
            }

            case 6:
                if (parent is JsonObject o) o.Remove(key!);
                else ((JsonArray)parent).RemoveAt(index);
                return $"{path} removed";
            case 7 when parent is JsonObject objectParent:
            {
                // The same key twice: the original value first, then a hostile one (or the other way round).
                var keyJson = JsonSerializer.SerializeToUtf8Bytes(key);
                var original = objectParent[key!]?.DeepClone();
                objectParent.Remove(key!);
                var first = random.Next(2) == 0;
                objectParent[Marker("K", keyJson)] = first ? original : (JsonNode)Marker("V", value.Json);
                objectParent[Marker("K", keyJson)] = first ? (JsonNode)Marker("V", value.Json) : original;
                return $"{path} given twice ({(first ? "then" : "first")} {value.Name})";
            }

            case 8 when parent is JsonObject renamed:
            {
                var hostileKey = HostileJson.Keys[random.Next(HostileJson.Keys.Count)];
                var original = renamed[key!]?.DeepClone();
                renamed.Remove(key!);
                renamed[Marker("K", hostileKey.Json)] = original;
                return $"{path} renamed to {hostileKey.Name}";
            }

            default:
            {
                // A field added to the object at this path (or its parent), a known name or a hostile key.
                var target = Value(parent, key, index) as JsonObject ?? parent as JsonObject ?? body;
                var name = HostileJson.ExtraFieldNames[random.Next(HostileJson.ExtraFieldNames.Count)];
                if (target.ContainsKey(name)) target.Remove(name);
                target[name] = Marker("V", value.Json);
                return $"{name} added at {(ReferenceEquals(target, body) ? "top" : path)} = {value.Name}";
            }
        }
    }

    private Mutation WholeBodyMutation(byte[] valid)
    {
        var at = valid.Length == 0 ? 0 : random.Next(valid.Length);
        return random.Next(22) switch
        {
            0 => new("empty body", [], Json),
            1 => new("whitespace body", " \r\n\t "u8.ToArray(), Json),
            2 => new("body null", "null"u8.ToArray(), Json),
            3 => new("body a number", "1e309"u8.ToArray(), Json),
            4 => new("body a string", "\"hello\""u8.ToArray(), Json),
            5 => new("body an array of the valid body", [.. "["u8, .. valid, .. "]"u8], Json),
            6 => new($"body nested {HostileJson.DeepNesting} deep", Encoding.UTF8.GetBytes(new string('[', HostileJson.DeepNesting) + new string(']', HostileJson.DeepNesting)), Json),
            7 => new($"body of {HostileJson.DeepNesting} open braces", Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", HostileJson.DeepNesting))), Json),
            8 or 9 or 10 => new($"cut after {at} of {valid.Length} bytes", valid[..at], Json),
            11 => new($"byte {at} flipped", Flip(valid, at), Json),
            12 => new($"NUL byte inserted at {at}", [.. valid[..at], 0, .. valid[at..]], Json),
            13 => new($"invalid UTF-8 (FF FE) inserted at {at}", [.. valid[..at], 0xFF, 0xFE, .. valid[at..]], Json),
            14 => new("trailing garbage", [.. valid, .. "}x"u8], Json),
            15 => new("two documents", [.. valid, .. valid], Json),
            16 => new("a comment before the body", [.. "/* c */"u8, .. valid], Json),
            17 => new("UTF-8 BOM twice", [0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF, .. valid], Json),
            18 => new("UTF-16 LE with BOM", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(valid))], Json),
            19 => new("UTF-32 BE", Encoding.UTF32.GetBytes(Encoding.UTF8.GetString(valid)).Reverse().ToArray(), Json),
            20 => new("single quotes for double quotes", valid.Select(b => b == (byte)'"' ? (byte)'\'' : b).ToArray(), Json),
            _ => new("body padded with 1 MiB of whitespace", [.. valid, .. Enumerable.Repeat((byte)' ', 1 << 20)], Json),
        };
    }

    private Mutation ContentTypeMutation(byte[] valid)
    {
        var type = WrongContentTypes[random.Next(WrongContentTypes.Length)];
        return random.Next(3) == 0
            ? new($"empty body with Content-Type '{type}'", [], type.Length == 0 ? null : type)
            : new($"valid body with Content-Type '{type}'", valid, type.Length == 0 ? null : type);
    }

    private static byte[] Flip(byte[] valid, int at)
    {
        var copy = (byte[])valid.Clone();
        if (copy.Length > 0) copy[at] ^= 0x80;
        return copy;
    }

    private static byte[] Serialize(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    /// <summary>Every value of the body with its path in the API's param notation: (path, container, key or index).</summary>
    private static List<(string Path, JsonNode Parent, string? Key, int Index)> Slots(JsonNode node, string path)
    {
        var slots = new List<(string, JsonNode, string?, int)>();
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o.ToList())
                {
                    var childPath = path.Length == 0 ? key : path + "." + key;
                    slots.Add((childPath, o, key, -1));
                    if (child is not null) slots.AddRange(Slots(child, childPath));
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    var childPath = $"{path}[{i}]";
                    slots.Add((childPath, a, null, i));
                    if (a[i] is { } child) slots.AddRange(Slots(child, childPath));
                }

                break;
        }

        return slots;
    }

    private static JsonNode? Value(JsonNode parent, string? key, int index) =>
        parent is JsonObject o ? key is null ? null : o[key] : ((JsonArray)parent)[index];

    private static void Set(JsonNode parent, string? key, int index, JsonNode? value)
    {
        if (parent is JsonObject o) o[key!] = value;
        else ((JsonArray)parent)[index] = value;
    }

    /// <summary>The marker replaced by the raw bytes; a marker a later change overwrote (or removed with its parent) is gone.</summary>
    private static byte[] Splice(byte[] body, byte[] marker, byte[] replacement)
    {
        var at = body.AsSpan().IndexOf(marker);
        if (at < 0) return body;
        return [.. body.AsSpan(0, at), .. replacement, .. body.AsSpan(at + marker.Length)];
    }
}
