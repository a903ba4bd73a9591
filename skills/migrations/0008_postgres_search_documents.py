# Hand-written: a PostgreSQL-only search table (SQLite's FTS5 tables already play this part).
#
# A full-text search over a common term reads every matching row twice over: to count the
# facet cells and to rank the page. In skills_skill those rows are wide (description, source
# path, errors, ...) and the tsvector comes last, so most of the time went to reading and
# decoding columns the search never uses. skills_search_doc holds only what a search reads: the
# filters, the slug (ties) and a copy of the generated tsvector, with the GIN index moved here.
# Triggers keep it in step with skills_skill: a set-based insert (bulk imports and generation
# stay one statement), a row update only when a searched column really changed (not on every
# run counter), deletes and truncation.

from django.db import migrations

FORWARDS = [
    """CREATE TABLE skills_search_doc (
        id bigint PRIMARY KEY,
        status varchar(16) NOT NULL,
        category varchar(64) NOT NULL,
        type varchar(16) NOT NULL,
        slug varchar(64) NOT NULL,
        tags jsonb NOT NULL,
        search tsvector NOT NULL
    )""",
    """CREATE FUNCTION skills_search_doc_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO skills_search_doc (id, status, category, type, slug, tags, search)
        SELECT id, status, category, type, slug, tags, search FROM inserted
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, category = EXCLUDED.category,
            type = EXCLUDED.type, slug = EXCLUDED.slug, tags = EXCLUDED.tags,
            search = EXCLUDED.search;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION skills_search_doc_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE skills_search_doc SET status = NEW.status, category = NEW.category,
            type = NEW.type, slug = NEW.slug, tags = NEW.tags, search = NEW.search
        WHERE id = NEW.id;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION skills_search_doc_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM skills_search_doc WHERE id IN (SELECT id FROM deleted);
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION skills_search_doc_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE skills_search_doc;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER skills_search_doc_ai AFTER INSERT ON skills_skill
        REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
        EXECUTE FUNCTION skills_search_doc_inserted()""",
    """CREATE TRIGGER skills_search_doc_au
        AFTER UPDATE OF slug, tags, description, status, category, type ON skills_skill
        FOR EACH ROW WHEN (
            (OLD.slug, OLD.tags, OLD.description, OLD.status, OLD.category, OLD.type)
            IS DISTINCT FROM
            (NEW.slug, NEW.tags, NEW.description, NEW.status, NEW.category, NEW.type)
        )
        EXECUTE FUNCTION skills_search_doc_updated()""",
    """CREATE TRIGGER skills_search_doc_ad AFTER DELETE ON skills_skill
        REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
        EXECUTE FUNCTION skills_search_doc_deleted()""",
    """CREATE TRIGGER skills_search_doc_at AFTER TRUNCATE ON skills_skill
        FOR EACH STATEMENT EXECUTE FUNCTION skills_search_doc_truncated()""",
    """INSERT INTO skills_search_doc (id, status, category, type, slug, tags, search)
        SELECT id, status, category, type, slug, tags, search FROM skills_skill""",
    "CREATE INDEX skill_search_gin_doc ON skills_search_doc USING gin (search)",
    "DROP INDEX IF EXISTS skill_search_gin",
]
BACKWARDS = [
    "CREATE INDEX IF NOT EXISTS skill_search_gin ON skills_skill USING gin (search)",
    "DROP TRIGGER IF EXISTS skills_search_doc_ai ON skills_skill",
    "DROP TRIGGER IF EXISTS skills_search_doc_au ON skills_skill",
    "DROP TRIGGER IF EXISTS skills_search_doc_ad ON skills_skill",
    "DROP TRIGGER IF EXISTS skills_search_doc_at ON skills_skill",
    "DROP FUNCTION IF EXISTS skills_search_doc_inserted()",
    "DROP FUNCTION IF EXISTS skills_search_doc_updated()",
    "DROP FUNCTION IF EXISTS skills_search_doc_deleted()",
    "DROP FUNCTION IF EXISTS skills_search_doc_truncated()",
    "DROP TABLE IF EXISTS skills_search_doc",
]


def _on_postgresql(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("skills", "0007_rejected_skill_files"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(FORWARDS), _on_postgresql(BACKWARDS), elidable=False),
    ]
