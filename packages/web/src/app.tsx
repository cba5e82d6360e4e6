import { Redirect, Route, Switch } from "wouter";
import { useSession } from "./api/session.js";
import { Shell } from "./components/shell.js";
import { Empty, Loading } from "./components/states.js";
import { AlertsPage } from "./pages/alerts.js";
import { BudgetsPage } from "./pages/budgets.js";
import { EventPage } from "./pages/event.js";
import { EventsPage } from "./pages/events.js";
import { ExplorerPage } from "./pages/explorer.js";
import { OverviewPage } from "./pages/overview.js";
import { PricesPage } from "./pages/prices.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SignInPage } from "./pages/sign-in.js";

export function App() {
  const { state } = useSession();
  if (state.status === "checking")
    return (
      <div className="signin">
        <Loading height={8} label="Checking your session" />
      </div>
    );
  if (state.status === "signed-out") return <SignInPage message={state.message} />;
  return (
    <Shell who={state.who}>
      <Switch>
        <Route path="/" component={OverviewPage} />
        <Route path="/explore" component={ExplorerPage} />
        <Route path="/runs" component={RunsPage} />
        <Route path="/runs/:id" component={RunPage} />
        <Route path="/events" component={EventsPage} />
        <Route path="/budgets" component={BudgetsPage} />
        <Route path="/alerts" component={AlertsPage} />
        <Route path="/prices" component={PricesPage} />
        <Route path="/events/:id" component={EventPage} />
        <Route path="/sign-in">
          <Redirect to="/" replace />
        </Route>
        <Route>
          <Empty title="There is no page here">
            <a href="/">Back to the overview</a>
          </Empty>
        </Route>
      </Switch>
    </Shell>
  );
}
