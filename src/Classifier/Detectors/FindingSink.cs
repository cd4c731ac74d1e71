namespace InferenceMesh.Classifier.Detectors;

/// <summary>Collects the findings of one pass and the strictest level they imply. Not thread-safe: one per pass.</summary>
internal sealed class FindingSink
{
    private List<Finding>? _findings;

    /// <summary>The strictest level of any finding so far; <see cref="PrivacyLevel.Public"/> when none.</summary>
    public PrivacyLevel Level { get; private set; } = PrivacyLevel.Public;

    /// <summary>Adds a finding at the level of its kind (see <see cref="FindingLevels"/>).</summary>
    public void Add(FindingKind kind, int start, int length) => Add(kind, start, length, FindingLevels.Of(kind));

    /// <summary>Adds a finding that carries its own level (confidentiality markers).</summary>
    public void Add(FindingKind kind, int start, int length, PrivacyLevel level)
    {
        (_findings ??= []).Add(new Finding(kind, start, length));
        if (level > Level)
        {
            Level = level;
        }
    }

    /// <summary>True when a finding of <paramref name="kind"/> already covers part of the span.</summary>
    public bool Overlaps(FindingKind kind, int start, int length)
    {
        if (_findings is null)
        {
            return false;
        }

        foreach (var finding in _findings)
        {
            if (finding.Kind == kind && start < finding.Start + finding.Length && finding.Start < start + length)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The findings ordered by start, then kind.</summary>
    public IReadOnlyList<Finding> ToOrderedList()
    {
        if (_findings is null)
        {
            return [];
        }

        _findings.Sort(static (a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Kind.CompareTo(b.Kind));
        return _findings.AsReadOnly();
    }
}
