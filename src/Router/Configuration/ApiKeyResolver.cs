using InferenceMesh.Configuration;

namespace InferenceMesh.Router.Configuration;

public enum ApiKeyStatus
{
    /// <summary>The backend names no key (apiKeyEnv and apiKeyFile both absent).</summary>
    NotConfigured,

    /// <summary>The key was found.</summary>
    Found,

    /// <summary>The environment variable is unset or empty, or the file is missing or empty.</summary>
    Missing,

    /// <summary>The file exists but cannot be read, or is a directory or larger than a key file can be.</summary>
    Unreadable,
}

/// <summary>
/// The outcome of looking up a backend's API key. <see cref="ToString"/> never prints the key, so a
/// lookup can be logged or shown safely; only <see cref="Key"/> holds it.
/// </summary>
public sealed record ApiKeyLookup(ApiKeyStatus Status, string Source)
{
    /// <summary>The key when <see cref="Status"/> is <see cref="ApiKeyStatus.Found"/>; never log it.</summary>
    public string? Key { get; init; }

    public override string ToString() => $"{Status} ({Source})";
}

/// <summary>Resolves backend API keys when needed (never at load, so rotation works). Thread-safe.</summary>
public interface IApiKeyResolver
{
    ApiKeyLookup Resolve(BackendConfig backend);
}

/// <summary>Reads keys from the environment variable named by apiKeyEnv or the file named by apiKeyFile.</summary>
internal sealed class ApiKeyResolver(Func<string, string?> environment) : IApiKeyResolver
{
    /// <summary>A key file larger than this is not a key file (a device, a wrong path): Unreadable.</summary>
    internal const int KeyFileMaxBytes = 64 * 1024;

    public ApiKeyResolver()
        : this(Environment.GetEnvironmentVariable)
    {
    }

    public ApiKeyLookup Resolve(BackendConfig backend)
    {
        if (backend.ApiKeyEnv is { } variable)
        {
            var source = $"environment variable {variable}";
            return environment(variable) is { Length: > 0 } value
                ? new ApiKeyLookup(ApiKeyStatus.Found, source) { Key = value.Trim() }
                : new ApiKeyLookup(ApiKeyStatus.Missing, source);
        }

        if (backend.ApiKeyFile is { } file)
        {
            var source = $"file {file}";
            var (text, _) = BoundedTextFile.Read(file, KeyFileMaxBytes);
            if (text is null)
            {
                return new ApiKeyLookup(File.Exists(file) || Directory.Exists(file) ? ApiKeyStatus.Unreadable : ApiKeyStatus.Missing, source);
            }

            var value = text.Trim();
            return value.Length > 0
                ? new ApiKeyLookup(ApiKeyStatus.Found, source) { Key = value }
                : new ApiKeyLookup(ApiKeyStatus.Missing, source);
        }

        return new ApiKeyLookup(ApiKeyStatus.NotConfigured, "none");
    }
}
