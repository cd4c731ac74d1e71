// The mesh is tested on Linux (owner-only key files, serf from Debian).
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
