"""Prompt hashes now fold look-alike letters and invisible characters (arena/battles/textnorm.py):
recompute the stored ones so the repeated-prompt rule sees old and new prompts alike."""

import hashlib

from django.db import migrations

BATCH = 2000


def recompute(apps, schema_editor):
    from arena.battles.textnorm import prompt_canonical

    Prompt = apps.get_model("battles", "Prompt")
    changed = []
    for prompt in Prompt.objects.only("pk", "text", "text_hash").iterator(chunk_size=BATCH):
        digest = hashlib.sha256(prompt_canonical(prompt.text).encode()).hexdigest()
        if digest != prompt.text_hash:
            prompt.text_hash = digest
            changed.append(prompt)
        if len(changed) >= BATCH:
            Prompt.objects.bulk_update(changed, ["text_hash"])
            changed = []
    if changed:
        Prompt.objects.bulk_update(changed, ["text_hash"])


class Migration(migrations.Migration):

    dependencies = [
        ("battles", "0003_battle_share_token"),
    ]

    operations = [
        migrations.RunPython(recompute, migrations.RunPython.noop, elidable=True),
    ]
