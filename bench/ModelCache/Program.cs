using System.Diagnostics;
using System.Globalization;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.ModelCache.Store;

// bench-modelcache quantize IN OUT TYPE THREADS  -> prints "<milliseconds>" (the whole QuantizeAsync call)
// bench-modelcache hash FILE                     -> prints "<milliseconds> <sha256>" (StreamHasher.HashFileAsync)
// One measurement per process, like the llama-quantize / sha256sum runs it is compared with.
switch (args)
{
    case ["quantize", var input, var output, var type, var threads]:
    {
        var quantizer = LlamaQuantizerFactory.Create();
        var options = new QuantizeOptions { Threads = int.Parse(threads, CultureInfo.InvariantCulture), Overwrite = true };
        var watch = Stopwatch.StartNew();
        var result = await quantizer.QuantizeAsync(input, output, type, options);
        watch.Stop();
        if (!result.Succeeded)
        {
            Console.Error.WriteLine(result);
            return 1;
        }

        Console.WriteLine(watch.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture));
        return 0;
    }

    case ["hash", var file]:
    {
        var watch = Stopwatch.StartNew();
        var (digest, _) = await StreamHasher.HashFileAsync(file, null, CancellationToken.None);
        watch.Stop();
        Console.WriteLine($"{watch.Elapsed.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} {digest}");
        return 0;
    }

    default:
        Console.Error.WriteLine("usage: bench-modelcache quantize IN OUT TYPE THREADS | hash FILE");
        return 2;
}
