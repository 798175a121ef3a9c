/*
  0007_create_app_course_tables
  Why:   courses, one enrollment per course and user, submissions under an enrollment, and at most one
         final qualification per enrollment (seeds/003: the per-period records a user merge must fold).
  Locks: creates new tables; no existing table is touched.
*/
CREATE TABLE app.Course
(
    CourseId  int           IDENTITY(1, 1) NOT NULL,
    Name      nvarchar(200) NOT NULL,
    CreatedAt datetime2(3)  NOT NULL CONSTRAINT DF_app_Course_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Course PRIMARY KEY CLUSTERED (CourseId)
);
GO
CREATE TABLE app.Enrollment
(
    EnrollmentId int          IDENTITY(1, 1) NOT NULL,
    CourseId     int          NOT NULL,
    UserId       int          NOT NULL,
    CreatedAt    datetime2(3) NOT NULL CONSTRAINT DF_app_Enrollment_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Enrollment PRIMARY KEY CLUSTERED (EnrollmentId),
    CONSTRAINT FK_app_Enrollment_CourseId_app_Course FOREIGN KEY (CourseId) REFERENCES app.Course (CourseId),
    CONSTRAINT FK_app_Enrollment_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT UQ_app_Enrollment_CourseId_UserId UNIQUE (CourseId, UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_Enrollment_UserId ON app.Enrollment (UserId) INCLUDE (CourseId);
GO
CREATE TABLE app.Submission
(
    SubmissionId int            IDENTITY(1, 1) NOT NULL,
    EnrollmentId int            NOT NULL,
    Content      nvarchar(max)  NOT NULL,
    SubmittedAt  datetime2(3)   NOT NULL CONSTRAINT DF_app_Submission_SubmittedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Submission PRIMARY KEY CLUSTERED (SubmissionId),
    CONSTRAINT FK_app_Submission_EnrollmentId_app_Enrollment FOREIGN KEY (EnrollmentId) REFERENCES app.Enrollment (EnrollmentId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_Submission_EnrollmentId ON app.Submission (EnrollmentId);
GO
CREATE TABLE app.FinalQualification
(
    FinalQualificationId int          IDENTITY(1, 1) NOT NULL,
    EnrollmentId         int          NOT NULL,
    Grade                nvarchar(20) NOT NULL,
    QualifiedAt          datetime2(3) NOT NULL CONSTRAINT DF_app_FinalQualification_QualifiedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_FinalQualification PRIMARY KEY CLUSTERED (FinalQualificationId),
    CONSTRAINT FK_app_FinalQualification_EnrollmentId_app_Enrollment FOREIGN KEY (EnrollmentId) REFERENCES app.Enrollment (EnrollmentId),
    CONSTRAINT UQ_app_FinalQualification_EnrollmentId UNIQUE (EnrollmentId)
);
GO
