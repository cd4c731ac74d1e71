namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>A small chat request on stories260K with extra top-level fields, for the tests of how fields are read or refused.</summary>
internal static class ChatFields
{
    private const string Head = """{"model":"stories260K","max_tokens":2,"messages":[{"role":"user","content":"Once"}],""";

    /// <summary>The base request with the members of <paramref name="fields"/> (a JSON object) added.</summary>
    public static string With(string fields) => Head + fields[1..];

    public static Task<HttpResponseMessage> PostAsync(TestEnvironment environment, string fields) =>
        environment.Http.PostAsync("/v1/chat/completions", ApiAssert.Json(With(fields)));
}
