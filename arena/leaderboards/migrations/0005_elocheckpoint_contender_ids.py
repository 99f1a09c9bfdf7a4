from django.db import migrations, models


class Migration(migrations.Migration):
    """Checkpoint columns keyed by contender id, so a rename does not reset its Elo."""

    dependencies = [
        ("leaderboards", "0004_elo_checkpoint"),
    ]

    operations = [
        migrations.AddField(
            model_name="elocheckpoint",
            name="contender_ids",
            field=models.JSONField(
                default=list,
                help_text="The contender of each column (what a checkpoint is keyed by).",
            ),
        ),
    ]
