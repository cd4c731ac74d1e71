namespace InferenceMesh.ContextStore.Storage;

/// <summary>
/// A module whose records expire by age (stored responses): the context store's retention service
/// (<see cref="ContextRetention"/>) calls <see cref="PurgeExpired"/> at start and every purge interval. Reading an expired
/// record must already fail before it is purged (an expiry is a read filter first, the purge only frees the space).
/// Register one with <c>services.AddSingleton&lt;IExpiringStore&gt;(…)</c>.
/// </summary>
public interface IExpiringStore
{
    /// <summary>The module name, for the log line.</summary>
    string Module { get; }

    /// <summary>Deletes every expired record; returns how many.</summary>
    int PurgeExpired();
}
