"""Hooks through which apps above ``imaging`` add to its admin pages, without ``imaging`` importing them.

An app registers in its ``AppConfig.ready``; ``imaging`` only shows what is registered.
"""

# Inline admin classes of rows other apps keep for an image (quiz's lesion targets), shown on the image's
# page after its arrows. Each inline applies its own rules (who may change which case's rows) and may add
# its own script to the drawing board (``static/js/annotate.js`` takes plugins, see there).
image_admin_inlines: list[type] = []
