namespace InferenceMesh.Engine.Native;

/// <summary>
/// A C <c>bool</c> (one byte) inside a native struct. Keeps the structs blittable, which
/// <see cref="System.Runtime.InteropServices.LibraryImportAttribute"/> needs for by-value structs,
/// while reading like a <see cref="bool"/>.
/// </summary>
internal readonly struct LlamaBool : IEquatable<LlamaBool>
{
    private readonly byte _value;

    public LlamaBool(bool value) => _value = value ? (byte)1 : (byte)0;

    public static implicit operator bool(LlamaBool value) => value._value != 0;

    public static implicit operator LlamaBool(bool value) => new(value);

    public bool Equals(LlamaBool other) => (_value != 0) == (other._value != 0);

    public override bool Equals(object? obj) => obj is LlamaBool other && Equals(other);

    public override int GetHashCode() => _value != 0 ? 1 : 0;

    public override string ToString() => (_value != 0).ToString();

    public static bool operator ==(LlamaBool left, LlamaBool right) => left.Equals(right);

    public static bool operator !=(LlamaBool left, LlamaBool right) => !left.Equals(right);
}
