using InferenceMesh.Router.Health;

namespace InferenceMesh.Gateway.Backends;

/// <summary>Why a backend call failed (like YARP's ForwarderError): stored as a value, logged once, decided on without catching.</summary>
public enum BackendError
{
    /// <summary>The backend answered.</summary>
    None,

    /// <summary>The connection was refused or could not be made (retryable).</summary>
    Refused,

    /// <summary>No first byte within the first-byte timeout (retryable).</summary>
    Timeout,

    /// <summary>502, 503 or 504: a gateway or overload status that is safe to retry.</summary>
    Unavailable,

    /// <summary>500 or another 5xx.</summary>
    ServerError,

    /// <summary>429.</summary>
    RateLimited,

    /// <summary>401 or 403: the backend's key is wrong (a configuration problem, not the client's).</summary>
    Unauthorized,

    /// <summary>400, 413 or 422: the upstream says the request itself is invalid; the client sees a normalised error, no failover.</summary>
    Rejected,

    /// <summary>Another unexpected status (404, a redirect…).</summary>
    UnexpectedStatus,

    /// <summary>200 with an empty body, or a stream with no event.</summary>
    EmptyResponse,

    /// <summary>A body or first event that is not what the protocol says.</summary>
    MalformedResponse,

    /// <summary>The stream broke, went silent or turned into an error after the first byte reached the client.</summary>
    StreamCut,

    /// <summary>The backend names a key source (apiKeyEnv/apiKeyFile) that is missing or unreadable: not called.</summary>
    MissingApiKey,

    /// <summary>The circuit is open: not called.</summary>
    CircuitOpen,

    /// <summary>No implementation for this backend's type (e.g. a config entry of type peer: peers come from the mesh, not the config): not called.</summary>
    NotSupported,

    /// <summary>The client left.</summary>
    Canceled,
}

public static class BackendErrors
{
    /// <summary>Safe to try the same backend again, provided nothing was sent to the client.</summary>
    public static bool IsRetryable(this BackendError error) => error is BackendError.Refused or BackendError.Timeout or BackendError.Unavailable;

    /// <summary>Counts against the backend's health and circuit (the backend's fault, not the client's or ours).</summary>
    public static bool IsBackendFault(this BackendError error) => error.ToHealthKind() is not null;

    /// <summary>The router's health kind, or null for outcomes that say nothing about the backend's health.</summary>
    public static BackendFailureKind? ToHealthKind(this BackendError error) => error switch
    {
        BackendError.Refused => BackendFailureKind.Refused,
        BackendError.Timeout => BackendFailureKind.Timeout,
        BackendError.Unavailable or BackendError.ServerError or BackendError.UnexpectedStatus
            or BackendError.EmptyResponse or BackendError.MalformedResponse => BackendFailureKind.UpstreamError,
        BackendError.RateLimited => BackendFailureKind.RateLimited,
        BackendError.Unauthorized => BackendFailureKind.Unauthorized,
        BackendError.StreamCut => BackendFailureKind.StreamCut,
        _ => null,
    };

    /// <summary>The error for a non-2xx upstream status.</summary>
    public static BackendError FromStatus(int status) => status switch
    {
        400 or 413 or 422 => BackendError.Rejected,
        401 or 403 => BackendError.Unauthorized,
        429 => BackendError.RateLimited,
        502 or 503 or 504 => BackendError.Unavailable,
        >= 500 => BackendError.ServerError,
        _ => BackendError.UnexpectedStatus,
    };
}
