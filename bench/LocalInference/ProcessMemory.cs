using System.Globalization;

namespace InferenceMesh.Bench.LocalInference;

/// <summary>Resident memory of a process and all its descendants, from /proc (Linux only).</summary>
internal static class ProcessMemory
{
    /// <summary>Sum of VmRSS over <paramref name="pid"/> and its descendants, in bytes; null if the process is gone.</summary>
    public static long? ResidentBytesWithChildren(int pid)
    {
        var self = ReadRssBytes(pid);
        if (self is null)
        {
            return null;
        }

        var total = self.Value;
        foreach (var child in Descendants(pid))
        {
            total += ReadRssBytes(child) ?? 0;
        }

        return total;
    }

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/status");

    private static long? ReadRssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    // "VmRSS:     123456 kB"
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0; // a zombie has no VmRSS line
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static List<int> Descendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
                var stat = File.ReadAllText($"{dir}/stat");
                var afterComm = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(afterComm[1], CultureInfo.InvariantCulture);
                if (!children.TryGetValue(ppid, out var list))
                {
                    children[ppid] = list = [];
                }

                list.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // the process ended while we looked
            }
        }

        var result = new List<int>();
        var pending = new Stack<int>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            if (children.TryGetValue(pending.Pop(), out var list))
            {
                foreach (var child in list)
                {
                    result.Add(child);
                    pending.Push(child);
                }
            }
        }

        return result;
    }
}
