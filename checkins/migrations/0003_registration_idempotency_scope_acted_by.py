"""One idempotency key per scope (a person, a device) instead of one global UUID; who acted."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("checkins", "0002_registration_append_only_trigger"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="registration", name="registration_client_token_unique"
        ),
        migrations.RenameField(
            model_name="registration", old_name="client_token", new_name="idempotency_key"
        ),
        migrations.AlterField(
            model_name="registration",
            name="idempotency_key",
            field=models.CharField(max_length=100, verbose_name="submission key"),
        ),
        migrations.AddField(
            model_name="registration",
            name="key_scope",
            field=models.CharField(default="", max_length=40, verbose_name="key scope"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="registration",
            name="acted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="registrations_made_for_others",
                to=settings.AUTH_USER_MODEL,
                verbose_name="registered by",
            ),
        ),
        migrations.AddField(
            model_name="registration",
            name="reason",
            field=models.TextField(blank=True, verbose_name="reason"),
        ),
        migrations.AddConstraint(
            model_name="registration",
            constraint=models.UniqueConstraint(
                fields=("key_scope", "idempotency_key"), name="registration_key_unique"
            ),
        ),
    ]
