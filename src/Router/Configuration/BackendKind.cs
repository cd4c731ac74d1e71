namespace InferenceMesh.Router.Configuration;

/// <summary>The protocol of a backend (the <c>type</c> key in config).</summary>
public enum BackendKind
{
    /// <summary>The in-process engine serving the GGUF models of the models folder. Config type "local".</summary>
    Local,

    /// <summary>An OpenAI-compatible HTTP upstream. Config type "openai".</summary>
    OpenAi,

    /// <summary>An Anthropic Messages upstream. Config type "anthropic".</summary>
    Anthropic,

    /// <summary>Another Inference Mesh node. Config type "peer".</summary>
    Peer,
}

/// <summary>What privacy rules talk about: where a prompt ends up. Policy names: local, peer, cloud.</summary>
public enum BackendClass
{
    Local,
    Peer,
    Cloud,
}

public static class BackendKindNames
{
    public static bool TryParseKind(string value, out BackendKind kind)
    {
        switch (value)
        {
            case "local": kind = BackendKind.Local; return true;
            case "openai": kind = BackendKind.OpenAi; return true;
            case "anthropic": kind = BackendKind.Anthropic; return true;
            case "peer": kind = BackendKind.Peer; return true;
            default: kind = default; return false;
        }
    }

    public static string Name(this BackendKind kind) => kind switch
    {
        BackendKind.Local => "local",
        BackendKind.OpenAi => "openai",
        BackendKind.Anthropic => "anthropic",
        BackendKind.Peer => "peer",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static BackendClass Class(this BackendKind kind) => kind switch
    {
        BackendKind.Local => BackendClass.Local,
        BackendKind.Peer => BackendClass.Peer,
        _ => BackendClass.Cloud,
    };

    public static bool TryParseClass(string value, out BackendClass backendClass)
    {
        switch (value)
        {
            case "local": backendClass = BackendClass.Local; return true;
            case "peer": backendClass = BackendClass.Peer; return true;
            case "cloud": backendClass = BackendClass.Cloud; return true;
            default: backendClass = default; return false;
        }
    }

    public static string Name(this BackendClass backendClass) => backendClass switch
    {
        BackendClass.Local => "local",
        BackendClass.Peer => "peer",
        BackendClass.Cloud => "cloud",
        _ => throw new ArgumentOutOfRangeException(nameof(backendClass), backendClass, null),
    };
}
