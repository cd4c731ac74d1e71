using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace InferenceMesh.Router.Configuration;

/// <summary>
/// Reads a YAML file node by node so that every error (syntax, unknown key, wrong type, out of
/// range) carries the file, line and column of the offending node. Collects all errors rather than
/// stopping at the first.
/// </summary>
internal sealed partial class YamlReader
{
    /// <summary>The deepest nesting of lists and mappings a config or policy file may have.</summary>
    public const int MaxDepth = 32;

    private readonly List<ConfigError> _errors;

    private YamlReader(string file, List<ConfigError> errors)
    {
        File = file;
        _errors = errors;
    }

    public string File { get; }

    public IReadOnlyList<ConfigError> Errors => _errors;

    /// <summary>Parses <paramref name="text"/>; the root node is null for an empty document or a syntax error (reported).</summary>
    public static (YamlReader Reader, YamlNode? Root) Parse(string file, string text)
    {
        var reader = new YamlReader(file, []);
        var parser = new TrackingParser(new Parser(new StringReader(text)));
        try
        {
            var stream = new YamlStream();
            stream.Load(parser);
            if (stream.Documents.Count > 1)
            {
                reader.Error(stream.Documents[1].RootNode, "only one YAML document per file is allowed");
            }

            var root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
            if (root is YamlScalarNode { Value: null or "" })
            {
                root = null;
            }

            return (reader, root);
        }
        catch (YamlException ex)
        {
            reader._errors.Add(new ConfigError(file, (int)ex.Start.Line, (int)ex.Start.Column, CleanMessage(ex)));
            return (reader, null);
        }
        catch (ArgumentException ex)
        {
            // The representation model reports a duplicate mapping key this way, without a position.
            reader._errors.Add(new ConfigError(file, 0, 0, ex.Message));
            return (reader, null);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner gives up this way on some malformed input (e.g. a plain scalar in a flow sequence
            // continued on a less indented line), with neither a position nor a useful message: the last event it
            // parsed is where the trouble starts.
            var at = parser.LastGood;
            reader._errors.Add(new ConfigError(file, (int)at.Line, (int)at.Column,
                "not valid YAML after this point (the parser gave up; check brackets, quotes and indentation)"));
            return (reader, null);
        }
    }

    /// <summary>
    /// Passes the events on, remembers where the last one ended, and refuses nesting deeper than
    /// <see cref="MaxDepth"/>: the representation model recurses once per level, and a file of a few hundred
    /// thousand brackets overflowed the stack, which no handler can catch (the process aborted, also on a reload).
    /// </summary>
    private sealed class TrackingParser(IParser inner) : IParser
    {
        private int _depth;

        public Mark LastGood { get; private set; } = new(0, 1, 1);

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            var moved = inner.MoveNext();
            if (inner.Current is { } current)
            {
                if (current is SequenceStart or MappingStart && ++_depth > MaxDepth)
                {
                    throw new YamlException(current.Start, current.End, $"nested deeper than {MaxDepth} levels (no config or policy needs more than a few)");
                }

                if (current is SequenceEnd or MappingEnd)
                {
                    _depth--;
                }

                LastGood = current.End;
            }

            return moved;
        }
    }

    public void Error(YamlNode node, string reason) =>
        _errors.Add(new ConfigError(File, (int)node.Start.Line, (int)node.Start.Column, reason));

    public void ErrorAt(int line, int column, string reason) => _errors.Add(new ConfigError(File, line, column, reason));

    public YamlMappingNode? Mapping(YamlNode node, string what)
    {
        if (node is YamlMappingNode map)
        {
            return map;
        }

        Error(node, $"{what} must be a mapping (key: value)");
        return null;
    }

    public YamlSequenceNode? Sequence(YamlNode node, string what)
    {
        if (node is YamlSequenceNode seq)
        {
            return seq;
        }

        Error(node, $"{what} must be a list");
        return null;
    }

    /// <summary>The entries of a mapping; unknown keys (when <paramref name="known"/> is given) and non-scalar keys are reported and skipped.</summary>
    public IEnumerable<(string Key, YamlScalarNode KeyNode, YamlNode Value)> Entries(YamlMappingNode map, string what, IReadOnlyCollection<string>? known)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key } scalarKey)
            {
                Error(keyNode, $"keys of {what} must be plain names");
                continue;
            }

            if (!seen.Add(key))
            {
                Error(keyNode, $"duplicate key '{key}' in {what}");
                continue;
            }

            if (known is not null && !known.Contains(key))
            {
                Error(keyNode, $"unknown key '{key}' in {what} (known keys: {string.Join(", ", known)})");
                continue;
            }

            yield return (key, scalarKey, value);
        }
    }

    public string? String(YamlNode node, string what)
    {
        if (node is YamlScalarNode scalar)
        {
            return IsNull(scalar) ? null : scalar.Value;
        }

        Error(node, $"{what} must be a single value");
        return null;
    }

    public double? Number(YamlNode node, string what, double min, double max)
    {
        var text = String(node, what);
        if (text is null)
        {
            return null;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            Error(node, $"{what} must be a number (got '{text}')");
            return null;
        }

        if (value < min || value > max)
        {
            Error(node, $"{what} must be from {Format(min)} to {Format(max)} (got {Format(value)})");
            return null;
        }

        return value;
    }

    public int? Integer(YamlNode node, string what, int min, int max)
    {
        var text = String(node, what);
        if (text is null)
        {
            return null;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            Error(node, $"{what} must be a whole number (got '{text}')");
            return null;
        }

        if (value < min || value > max)
        {
            Error(node, $"{what} must be from {min} to {max} (got {value})");
            return null;
        }

        return value;
    }

    public bool? Bool(YamlNode node, string what)
    {
        var text = String(node, what);
        switch (text)
        {
            case null: return null;
            case "true": return true;
            case "false": return false;
            default:
                Error(node, $"{what} must be true or false (got '{text}')");
                return null;
        }
    }

    /// <summary>A list of non-empty strings; a single scalar is not accepted (say [x] for one).</summary>
    public IReadOnlyList<string>? StringList(YamlNode node, string what)
    {
        if (Sequence(node, what) is not { } seq)
        {
            return null;
        }

        var list = new List<string>();
        foreach (var item in seq.Children)
        {
            if (String(item, $"each entry of {what}") is { Length: > 0 } value)
            {
                list.Add(value);
            }
            else if (item is YamlScalarNode)
            {
                Error(item, $"entries of {what} must not be empty");
            }
        }

        return list;
    }

    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null";

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    // YamlDotNet prefixes its messages with "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 9, Idx: 24): "; the position is reported separately.
    private static string CleanMessage(YamlException ex) => PositionPrefix().Replace(ex.Message, string.Empty);

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*")]
    private static partial Regex PositionPrefix();
}
