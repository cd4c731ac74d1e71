using System.Globalization;
using System.Text;

namespace InferenceMesh.ClassifierTraining.Evaluation;

/// <summary>Per-class precision, recall and F1 for one head, from its confusion matrix.</summary>
internal sealed class HeadMetrics
{
    public HeadMetrics(string head, IReadOnlyList<string> labels)
    {
        Head = head;
        Labels = labels;
        Confusion = new int[labels.Count, labels.Count];
    }

    public string Head { get; }
    public IReadOnlyList<string> Labels { get; }

    /// <summary>[actual, predicted] counts.</summary>
    public int[,] Confusion { get; }

    public int Total { get; private set; }

    public void Add(int actual, int predicted)
    {
        Confusion[actual, predicted]++;
        Total++;
    }

    public double Accuracy => Total == 0 ? 0 : Enumerable.Range(0, Labels.Count).Sum(i => Confusion[i, i]) / (double)Total;

    public (double Precision, double Recall, double F1, int Support) For(int c)
    {
        int tp = Confusion[c, c], predicted = 0, actual = 0;
        for (var i = 0; i < Labels.Count; i++)
        {
            predicted += Confusion[i, c];
            actual += Confusion[c, i];
        }

        var precision = predicted == 0 ? 0 : tp / (double)predicted;
        var recall = actual == 0 ? 0 : tp / (double)actual;
        var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return (precision, recall, f1, actual);
    }

    public double MacroF1 => Enumerable.Range(0, Labels.Count).Average(c => For(c).F1);

    public string ToMarkdownTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {Head} | precision | recall | F1 | support |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        for (var c = 0; c < Labels.Count; c++)
        {
            var (p, r, f, s) = For(c);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {Labels[c]} | {p:F3} | {r:F3} | {f:F3} | {s} |");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"| **accuracy {Accuracy:F3}, macro-F1 {MacroF1:F3}** | | | | {Total} |");
        return sb.ToString();
    }

    public string ConfusionToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("| actual \\ predicted |");
        foreach (var label in Labels)
        {
            sb.Append(' ').Append(label).Append(" |");
        }

        sb.AppendLine().Append("| --- |");
        foreach (var _ in Labels)
        {
            sb.Append(" ---: |");
        }

        sb.AppendLine();
        for (var a = 0; a < Labels.Count; a++)
        {
            sb.Append("| ").Append(Labels[a]).Append(" |");
            for (var p = 0; p < Labels.Count; p++)
            {
                sb.Append(' ').Append(Confusion[a, p].ToString(CultureInfo.InvariantCulture)).Append(" |");
            }

            sb.AppendLine();
        }

        return sb.ToString();
    }
}
