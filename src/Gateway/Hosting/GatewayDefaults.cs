using System.Net;

namespace InferenceMesh.Gateway.Hosting;

/// <summary>Every default and limit of <see cref="GatewayOptions"/>, in one place.</summary>
internal static class GatewayDefaults
{
    public const string Host = "127.0.0.1";
    public const int Port = 8080;
    public const int MaxSlots = 256;
    public const int MaxThreads = 1024;
    public const int MinContextLength = 16;
    public const int MaxContextLength = 1 << 20;
    public const long MaxRequestBodyBytes = 8L * 1024 * 1024;
    public const long MinRequestBodyBytes = 1024;
    public const int RetryAfterSeconds = 1;
    public const int MaxHistoryRetentionDays = 36500;

    /// <summary>Days a stored response is kept: 30, as OpenAI keeps them.</summary>
    public const int ResponseRetentionDays = 30;

    /// <summary>
    /// $XDG_DATA_HOME/inference-mesh/models when XDG_DATA_HOME is an absolute path, else
    /// ~/.local/share/inference-mesh/models (the XDG base directory default).
    /// </summary>
    public static string ModelsDirectory() => Path.Combine(DataHome(), "inference-mesh", "models");

    /// <summary>
    /// The context store's folder: $XDG_DATA_HOME/inference-mesh/data when XDG_DATA_HOME is an absolute path, else
    /// ~/.local/share/inference-mesh/data.
    /// </summary>
    public static string DataDirectory() => Path.Combine(DataHome(), "inference-mesh", "data");

    private static string DataHome()
    {
        var dataHome = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        return string.IsNullOrEmpty(dataHome) || !Path.IsPathRooted(dataHome)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : dataHome;
    }

    /// <summary>
    /// The policies folder: ./policies when it exists (a checkout or a deployment's working folder), else the
    /// copy next to the executable (installed with it). When that folder has no default.yaml either, the
    /// router's built-in copy of the default policy is used.
    /// </summary>
    public static string PoliciesDirectory()
    {
        var local = Path.GetFullPath("policies");
        return Directory.Exists(local) ? local : Path.Combine(AppContext.BaseDirectory, "policies");
    }

    public static bool IsListenHost(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(host, out _);
}
