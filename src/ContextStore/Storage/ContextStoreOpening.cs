using InferenceMesh.ContextStore.Conversations;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.ContextStore.Storage;

/// <summary>Opening the context database on demand.</summary>
public static class ContextStoreOpening
{
    /// <summary>
    /// Opens the context database now (running every registered module's migrations) and the conversation store if
    /// there is one; idempotent. The hosted service does this at start; a host can call it before starting, so that a
    /// database it cannot open is one line and not also the host's start failure with its stack trace.
    /// </summary>
    /// <exception cref="ContextStoreOpenException">The database cannot be opened; the message is one line.</exception>
    public static void OpenContextStore(this IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        try
        {
            // Resolving the database opens it and runs every registered module's migrations.
            _ = services.GetRequiredService<ContextDatabase>();
            _ = services.GetService<IConversationStore>();
        }
        catch (Exception ex) when (ex is InvalidOperationException or SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new ContextStoreOpenException($"The context store '{services.GetRequiredService<ContextStoreOptions>().DatabasePath}' cannot be opened: {ex.Message}", ex);
        }
    }
}

/// <summary>The context database could not be opened at start (unwritable folder, a file from a newer build…); the message is one line for the console.</summary>
public sealed class ContextStoreOpenException(string message, Exception innerException) : Exception(message, innerException);
