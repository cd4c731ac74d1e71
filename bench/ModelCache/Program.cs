using System.Diagnostics;
using System.Globalization;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.ModelCache.Store;

// bench-modelcache quantize IN OUT TYPE THREADS  -> prints "<milliseconds>" (the whole QuantizeAsync call)
// bench-modelcache hash FILE                     -> prints "<milliseconds> <sha256>" (StreamHasher.HashFileAsync)
// bench-modelcache blob OUT MIB                 -> writes a valid GGUF of about MIB MiB of random bytes (one I8 tensor; torrent bench)
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

    case ["blob", var output, var mib]:
    {
        var bytes = long.Parse(mib, CultureInfo.InvariantCulture) << 20;
        new InferenceMesh.ModelCache.Gguf.GgufWriter()
            .AddString("general.architecture", "bench-blob")
            .AddTensor("blob", InferenceMesh.ModelCache.Gguf.GgmlType.I8, [bytes], stream =>
            {
                var chunk = new byte[1 << 20];
                for (long done = 0; done < bytes; done += chunk.Length)
                {
                    Random.Shared.NextBytes(chunk);
                    stream.Write(chunk, 0, (int)Math.Min(chunk.Length, bytes - done));
                }
            })
            .WriteTo(output);
        return 0;
    }

    default:
        Console.Error.WriteLine("usage: bench-modelcache quantize IN OUT TYPE THREADS | hash FILE | blob OUT MIB");
        return 2;
}
