"""One account per email address, in any case, enforced by the database.

The signup form checks first, but two signups at the same moment both pass that check;
this unique index lets only one of them in (accounts.services.user_signup turns the
other's IntegrityError into the form's error). auth.User is Django's model, so the
index is plain SQL on its table rather than a constraint in its Meta. SQLite and
PostgreSQL both support unique indexes on an expression with a WHERE clause; accounts
without an email (a createsuperuser without one) are left out.

It fails if the table already holds two such emails: merge or change those first.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE UNIQUE INDEX accounts_user_email_ci_uniq "
            "ON auth_user (LOWER(email)) WHERE email <> ''",
            reverse_sql="DROP INDEX accounts_user_email_ci_uniq",
        ),
    ]
