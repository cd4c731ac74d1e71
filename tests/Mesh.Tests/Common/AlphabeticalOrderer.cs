using Xunit.Abstractions;
using Xunit.Sdk;

namespace InferenceMesh.Mesh.Tests.Common;

/// <summary>Runs a class's tests in name order: a shared cluster whose last test kills a node.</summary>
public sealed class AlphabeticalOrderer : ITestCaseOrderer
{
    public const string Name = "InferenceMesh.Mesh.Tests.Common.AlphabeticalOrderer";
    public const string Assembly = "InferenceMesh.Mesh.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
        testCases.OrderBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);
}
