/** The Sync overview: one card per sink (webhook or connector backend) with what is flowing
 * and what failed. Data comes from api.sync.overview.get_cards(). */
import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const { DateTime } = luxon;

export class SyncOverview extends Component {
    static template = "api_sync.SyncOverview";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ cards: [], hours: 24, isManager: false, loaded: false });
        this.display = { controlPanel: {} };
        onWillStart(() => this.load());
    }

    async load() {
        const data = await this.orm.call("api.sync.overview", "get_cards", []);
        Object.assign(this.state, data, { loaded: true });
    }

    /** Bars of the card's pushes per hour, scaled to the card's busiest hour. */
    bars(card) {
        const max = Math.max(1, ...card.series.map((point) => point.done + point.failed));
        const width = 100 / card.series.length;
        return card.series.map((point, index) => {
            const done = (point.done / max) * 38;
            const failed = (point.failed / max) * 38;
            return {
                x: index * width + width * 0.1,
                width: width * 0.8,
                doneY: 40 - done,
                done,
                failedY: 40 - done - failed,
                failed,
                title: _t("%(hour)s: %(done)s sent, %(failed)s failed", {
                    hour: DateTime.fromISO(point.at, { zone: "utc" }).toLocal().toFormat("HH:mm"),
                    done: point.done,
                    failed: point.failed,
                }),
            };
        });
    }

    ago(value) {
        return value ? DateTime.fromISO(value, { zone: "utc" }).toRelative() : _t("never");
    }

    openSink(card) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: card.model,
            res_id: card.id,
            views: [[false, "form"]],
        });
    }

    openDeliveries(card, states, name) {
        this.action.doAction({
            type: "ir.actions.act_window",
            name: `${name}: ${card.name}`,
            res_model: "api.sync.delivery",
            views: [[false, "list"], [false, "form"]],
            domain: [
                ["sink_model", "=", card.model],
                ["sink_id", "=", card.id],
                ["state", "in", states],
            ],
            context: { create: false },
        });
    }

    async retryAll(card) {
        const action = await this.orm.call("api.sync.delivery", "action_retry_all", [[]], {
            context: { api_sync_sink: `${card.model},${card.id}` },
        });
        await this.action.doAction({ ...action, params: { ...action.params, next: false } });
        await this.load();
    }
}

registry.category("actions").add("api_sync.overview", SyncOverview);
