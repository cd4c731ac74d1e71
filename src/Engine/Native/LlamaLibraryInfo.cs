namespace InferenceMesh.Engine.Native;

/// <summary>What <see cref="LlamaLibrary.Initialize"/> loaded and found.</summary>
/// <param name="Directory">The folder the native libraries were loaded from.</param>
/// <param name="Tag">The pinned llama.cpp tag of the libraries (<see cref="LlamaLibrary.PinnedTag"/>).</param>
/// <param name="LoadedLibraries">Full paths of the libraries loaded by path, in load order.</param>
/// <param name="BackendLibraries">Backend modules ggml chose and loaded from the folder (e.g. the best libggml-cpu-*.so for this CPU).</param>
/// <param name="Backends">Names of the registered ggml backends (e.g. "CPU").</param>
/// <param name="Devices">The ggml devices those backends expose.</param>
/// <param name="SystemInfo">The text of <c>llama_print_system_info()</c> (CPU features the chosen variant uses).</param>
public sealed record LlamaLibraryInfo(
    string Directory,
    string Tag,
    IReadOnlyList<string> LoadedLibraries,
    IReadOnlyList<string> BackendLibraries,
    IReadOnlyList<string> Backends,
    IReadOnlyList<LlamaDeviceInfo> Devices,
    string SystemInfo);

/// <summary>A ggml device: its name (e.g. "CPU"), description (e.g. the CPU model) and type ("Cpu", "Gpu", ...).</summary>
public sealed record LlamaDeviceInfo(string Name, string Description, string Type);
