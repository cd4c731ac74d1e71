using System.Globalization;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Extensions.DependencyInjection;

// Usage: CrashWriter DATA_DIR WRITERS
// Opens the context store in DATA_DIR (running its migrations), creates one conversation, prints "conv <id>", then
// WRITERS threads append one item at a time, each printing "ack <item id>" only after its write returned (committed).
// It runs until it is killed: the parent kills it with SIGKILL in the middle of writes and checks that every
// acknowledged item survived and that the database is sound.
if (args.Length != 2 || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var writers) || writers < 1)
{
    Console.Error.WriteLine("usage: CrashWriter DATA_DIR WRITERS");
    return 2;
}

var services = new ServiceCollection()
    .AddContextStore(new ContextStoreOptions { DataDirectory = args[0] })
    .AddConversationStore(new ConversationStoreOptions())
    .BuildServiceProvider();
var store = services.GetRequiredService<IConversationStore>();
var conversation = store.Create(new Dictionary<string, string>(), [], privacy: 0);
var output = Console.Out;
lock (output)
{
    output.WriteLine("conv " + conversation.Id);
    output.Flush();
}

var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
{
    for (var n = 0; ; n++)
    {
        var added = store.AddItems(conversation.Id, [new NewConversationItem("user", $"writer {w} item {n}")], privacy: 0)!;
        lock (output)
        {
            output.WriteLine("ack " + added[0].Id);
            output.Flush();
        }
    }
})).ToList();
threads.ForEach(t => t.Start());
threads.ForEach(t => t.Join());
return 0;
