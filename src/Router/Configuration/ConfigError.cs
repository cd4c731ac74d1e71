namespace InferenceMesh.Router.Configuration;

/// <summary>
/// A problem in a config or policy file: where it is and why. Line and column are 1-based; 0 when
/// the problem is the file as a whole (missing, unreadable). Never carries a secret's value.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string Reason)
{
    /// <summary>"file:line:column: reason", the shape compilers use, so editors can jump to it.</summary>
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}: {Reason}" : $"{File}: {Reason}";
}

/// <summary>Thrown at start-up (only) when the config or policy is invalid; carries every error found.</summary>
public sealed class RoutingConfigException(IReadOnlyList<ConfigError> errors)
    : Exception("Invalid routing configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  " + e)))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
