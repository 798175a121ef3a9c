using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Inserts the rows a user-merge test needs, one call per row, returning identities.</summary>
internal sealed class MergeSeed(string connectionString)
{
    public Task<int> UserAsync(string email, bool active = true, int? mergedInto = null) =>
        InsertAsync("INSERT INTO app.[User] (Email, DisplayName, IsActive, MergedIntoUserId) VALUES (@Email, @Email, @Active, @Into);",
            ("@Email", email), ("@Active", active), ("@Into", mergedInto));

    public Task<int> DocumentAsync(string path, int? creator = null) =>
        InsertAsync("INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES (@Path, @Path, @Creator);", ("@Path", path), ("@Creator", creator));

    public Task<int> AccessAsync(int document, int? user, string role, string? team = null) =>
        InsertAsync("INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role) VALUES (@D, @U, @Team, @Role);",
            ("@D", document), ("@U", user), ("@Team", team), ("@Role", role));

    public Task<int> LinkTraceAsync(int document, int user) =>
        InsertAsync("INSERT INTO app.LinkTrace (DocumentId, UserId) VALUES (@D, @U);", ("@D", document), ("@U", user));

    public Task<int> FavoriteAsync(int document, int user) =>
        InsertAsync("INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@D, @U);", ("@D", document), ("@U", user));

    public Task<int> ThreadAsync(int document, int? creator) =>
        InsertAsync("INSERT INTO app.Thread (DocumentId, CreatorUserId) VALUES (@D, @U);", ("@D", document), ("@U", creator));

    public Task<int> CommentAsync(int thread, int? author, string body = "comment") =>
        InsertAsync("INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@T, @U, @B);", ("@T", thread), ("@U", author), ("@B", body));

    public Task<int> ReactionAsync(int comment, string emoji) =>
        InsertAsync("INSERT INTO app.Reaction (CommentId, Emoji) VALUES (@C, @E);", ("@C", comment), ("@E", emoji));

    public Task<int> ReactionUserAsync(int reaction, int user) =>
        InsertAsync("INSERT INTO app.ReactionUser (ReactionId, UserId) VALUES (@R, @U);", ("@R", reaction), ("@U", user));

    public Task<int> DocumentInvitationAsync(int document, string email, string role, int? issuer) =>
        InsertAsync("INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) VALUES (@D, @E, @Role, @I);",
            ("@D", document), ("@E", email), ("@Role", role), ("@I", issuer));

    public Task<int> OrganizationAsync(string name) =>
        InsertAsync("INSERT INTO app.Organization (Name) VALUES (@N);", ("@N", name));

    public Task<int> OrganizationMemberAsync(int organization, int user, string role) =>
        InsertAsync("INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@O, @U, @Role);", ("@O", organization), ("@U", user), ("@Role", role));

    public Task<int> ChannelAsync(string name) =>
        InsertAsync("INSERT INTO app.Channel (Name) VALUES (@N);", ("@N", name));

    public Task<int> ChannelMemberAsync(int channel, int user, string role) =>
        InsertAsync("INSERT INTO app.ChannelMember (ChannelId, UserId, Role) VALUES (@C, @U, @Role);", ("@C", channel), ("@U", user), ("@Role", role));

    public Task<int> InvitationAsync(int channel, string email, string shareMode, int? sender, int? invited = null, string status = "pending") =>
        InsertAsync("INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId, InvitedUserId, Status) VALUES (@C, @E, @M, @S, @I, @St);",
            ("@C", channel), ("@E", email), ("@M", shareMode), ("@S", sender), ("@I", invited), ("@St", status));

    public Task<int> OrganizationInvitationAsync(int organization, string email, string shareMode, int? sender) =>
        InsertAsync("INSERT INTO app.Invitation (OrganizationId, Email, ShareMode, SenderUserId) VALUES (@O, @E, @M, @S);",
            ("@O", organization), ("@E", email), ("@M", shareMode), ("@S", sender));

    public Task<int> CollectionAsync(int owner, string name = "collection") =>
        InsertAsync("INSERT INTO app.Collection (Name, OwnerUserId) VALUES (@N, @O);", ("@N", name), ("@O", owner));

    public Task<int> CourseAsync(string name) =>
        InsertAsync("INSERT INTO app.Course (Name) VALUES (@N);", ("@N", name));

    public Task<int> EnrollmentAsync(int course, int user) =>
        InsertAsync("INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@C, @U);", ("@C", course), ("@U", user));

    public Task<int> SubmissionAsync(int enrollment, string content = "work") =>
        InsertAsync("INSERT INTO app.Submission (EnrollmentId, Content) VALUES (@E, @C);", ("@E", enrollment), ("@C", content));

    public Task<int> FinalQualificationAsync(int enrollment, string grade) =>
        InsertAsync("INSERT INTO app.FinalQualification (EnrollmentId, Grade) VALUES (@E, @G);", ("@E", enrollment), ("@G", grade));

    private async Task<int> InsertAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new SqlCommand(sql + " SELECT CONVERT(int, SCOPE_IDENTITY());", connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var result = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return result is int id ? id : 0;
    }
}
