from odoo import api, models
from odoo.fields import Domain

PICKER_CONTEXT = "api_sync_model_picker"


class IrModel(models.Model):
    """The model picker of API clients: finds models by technical and display name, shows both."""

    _inherit = "ir.model"

    @api.depends_context(PICKER_CONTEXT)
    def _compute_display_name(self):
        if not self.env.context.get(PICKER_CONTEXT):
            return super()._compute_display_name()
        for model in self:
            model.display_name = f"{model.name} ({model.model})"

    @api.model
    def name_search(self, name="", domain=None, operator="ilike", limit=100):
        """In the picker, an exact technical name comes first, then technical names starting
        with the term, then display names starting with it, then any other match."""
        term = (name or "").strip().lower()
        if not self.env.context.get(PICKER_CONTEXT) or not term or operator != "ilike":
            return super().name_search(name, domain, operator, limit)
        matches = self.search_fetch(
            Domain(domain or Domain.TRUE)
            & (Domain("model", "ilike", term) | Domain("name", "ilike", term)),
            ["model", "name"],
        )

        def rank(model):
            technical, label = model.model.lower(), (model.name or "").lower()
            return (
                technical != term,
                not technical.startswith(term),
                not label.startswith(term),
                len(technical),
                technical,
            )

        ranked = sorted(matches, key=rank)[: limit or None]
        return [(model.id, model.display_name) for model in ranked]
