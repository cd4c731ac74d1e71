namespace InferenceMesh.ContextStore.Rag.Files;

/// <summary>An uploaded file: its bytes live under the data folder at a name made from <see cref="Id"/>, never from <see cref="FileName"/>.</summary>
/// <param name="FileName">The name the client gave, kept only as a label (control characters and path separators replaced).</param>
/// <param name="Sha256">Lowercase hex of the content's SHA-256.</param>
/// <param name="CreatedAt">Unix seconds.</param>
public sealed record RagFile(string Id, string FileName, string Purpose, long Bytes, string Sha256, long CreatedAt);
