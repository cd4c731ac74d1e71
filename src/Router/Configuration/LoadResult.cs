namespace InferenceMesh.Router.Configuration;

/// <summary>A loaded value, or the errors that prevented it. Expected failures are values, not exceptions.</summary>
public sealed record LoadResult<T>(T? Value, IReadOnlyList<ConfigError> Errors)
    where T : class
{
    public bool IsValid => Value is not null && Errors.Count == 0;

    public static LoadResult<T> Ok(T value) => new(value, []);

    public static LoadResult<T> Failed(IReadOnlyList<ConfigError> errors) => new(null, errors);
}
