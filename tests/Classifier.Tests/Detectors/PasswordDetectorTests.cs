using InferenceMesh.Classifier.Detectors;

namespace InferenceMesh.Classifier.Tests.Detectors;

public sealed class PasswordDetectorTests
{
    private static readonly PasswordDetector Detector = new();

    [Theory]
    [InlineData("Server=db;Database=app;User Id=sa;Password=Hunter2!x;", "Hunter2!x")]
    [InlineData("Data Source=.;Uid=app;Pwd=s3cr3t", "s3cr3t")]
    [InlineData("password = \"correct horse battery staple\"", "correct horse battery staple")]
    [InlineData("DB_PASSWORD=p4ss_w0rd", "p4ss_w0rd")]
    [InlineData("{\"user\": \"bob\", \"password\": \"hunter2\"}", "hunter2")]
    [InlineData("connect(user='bob', passwd='Tr0ub4dor&3')", "Tr0ub4dor&3")]
    [InlineData("login(password=hunter2, retries=3)", "hunter2")]
    [InlineData("postgres://app:S3cr3t%21@db.example.com:5432/app", "S3cr3t%21")]
    [InlineData("see https://user:pa55@example.com/path", "pa55")]
    [InlineData("redis://:r3dis-pass@cache:6379", "r3dis-pass")]
    [InlineData("amqp://guest:p@ss@rabbit/vhost", "p@ss")]
    public void Finds_the_password_value_only(string text, string password) =>
        Assert.Equal([password], DetectorHarness.Found(Detector, text));

    [Theory]
    [InlineData("Password=<your-password>")]
    [InlineData("Password=\"<your password>\"")]
    [InlineData("Password=${DB_PASSWORD}")]
    [InlineData("PASSWORD=$DB_PASSWORD")]
    [InlineData("Password=****")]
    [InlineData("Password=;User=sa")]
    [InlineData("password=args.password")]
    [InlineData("password=os.getenv('DB_PASSWORD')")]
    [InlineData("if password == 'x':")]
    [InlineData("password: please reset it")]
    [InlineData("PWD=/home/alice")]
    [InlineData("https://example.com/users/bob@example.com")]
    [InlineData("ssh://git@github.com/org/repo.git")]
    [InlineData("http://localhost:8080/health")]
    [InlineData("https://user:<password>@example.com")]
    [InlineData("the password field is required")]
    public void Ignores_placeholders_and_code(string text) =>
        Assert.Empty(DetectorHarness.Found(Detector, text));
}
