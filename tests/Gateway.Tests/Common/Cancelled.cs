namespace InferenceMesh.Gateway.Tests.Common;

/// <summary>Waiting for a signal, not for time: a task that completes when the token is cancelled.</summary>
internal static class Cancelled
{
    /// <summary>Completes (never faults) when <paramref name="token"/> is cancelled, e.g. when the client of a stand-in upstream leaves.</summary>
    public static Task WhenCancelled(this CancellationToken token)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => cancelled.TrySetResult());
        return cancelled.Task;
    }
}
