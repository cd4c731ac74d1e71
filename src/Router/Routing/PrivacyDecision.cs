using InferenceMesh.Classifier;
using InferenceMesh.Router.Policies;

namespace InferenceMesh.Router.Routing;

/// <summary>The privacy level a request is routed at, and why.</summary>
/// <param name="Level">The effective level: the hard constraint for the plan.</param>
/// <param name="ClassifiedLevel">What the classifier said (Confidential when there was no classification).</param>
/// <param name="CallerLoweringRefused">The header asked for a lower level and the policy (or the detectors) refused; the gateway may answer 403 or go on at <see cref="Level"/>.</param>
/// <param name="Reasons">Each step that set the level, in order, in plain words.</param>
public sealed record PrivacyDecision(
    PrivacyLevel Level,
    PrivacyLevel ClassifiedLevel,
    bool CallerLoweringRefused,
    IReadOnlyList<string> Reasons);

/// <summary>Turns classification, caller header and policy into the effective privacy level.</summary>
public static class PrivacyResolver
{
    public static PrivacyDecision Resolve(Classification? classification, PrivacyLevel? callerLevel, RoutingPolicy policy)
    {
        var reasons = new List<string>();
        PrivacyLevel level;
        if (classification is null)
        {
            level = PrivacyLevel.Confidential;
            reasons.Add("no classification: treated as confidential");
        }
        else
        {
            level = classification.Privacy;
            reasons.Add($"classified {Name(level)} ({classification.Findings.Count} detector findings, detectors say {Name(classification.DetectorPrivacy)})");
            if (classification.Unsure && policy.UnsureAs > level)
            {
                level = policy.UnsureAs;
                reasons.Add($"classification unsure: raised to {Name(level)} by policy unsureAs");
            }
        }

        var classified = level;
        var refused = false;
        if (callerLevel is { } requested && requested != level)
        {
            if (requested > level)
            {
                level = requested;
                reasons.Add($"raised to {Name(level)} by the {PrivacyHeader.Name} header");
            }
            else if (classification is null)
            {
                refused = true;
                reasons.Add($"header asked for {Name(requested)}: refused, there is no classification to lower from");
            }
            else if (!policy.AllowCallerLowering)
            {
                refused = true;
                reasons.Add($"header asked for {Name(requested)}: refused, policy '{policy.Name}' does not allow callers to lower the level");
            }
            else
            {
                var floor = classification.DetectorPrivacy;
                var lowered = requested < floor ? floor : requested;
                refused = lowered != requested;
                reasons.Add(refused
                    ? $"header asked for {Name(requested)}: lowered only to {Name(lowered)}, the detectors' level"
                    : $"lowered to {Name(lowered)} by the {PrivacyHeader.Name} header (policy allows it)");
                level = lowered;
            }
        }

        return new PrivacyDecision(level, classified, refused, reasons);
    }

    private static string Name(PrivacyLevel level) => PrivacyHeader.Format(level);
}
