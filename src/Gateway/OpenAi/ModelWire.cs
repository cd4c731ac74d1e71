namespace InferenceMesh.Gateway.OpenAi;

public sealed record ModelList(IReadOnlyList<ModelInfo> Data)
{
    public string Object => "list";
}

public sealed record ModelInfo(string Id, long Created, string OwnedBy)
{
    public string Object => "model";
}
