// kernelbench's JupyterLab extension: the "Kernel runs" panel in the left side bar.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { RunsPanel } from './panel';

const icon = new LabIcon({
  name: 'kernelbench:runs',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="3" y="13" width="3" height="8"/><rect x="8.5" y="9" width="3" height="12"/>' +
    '<rect x="14" y="5" width="3" height="16"/><rect x="19.5" y="11" width="2" height="10"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'kernelbench:runs',
  description: 'Kernel runs: every tuning run in the kernelbench run store.',
  autoStart: true,
  optional: [INotebookTracker, ILayoutRestorer],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker | null, restorer: ILayoutRestorer | null) => {
    const panel = new RunsPanel(tracker);
    panel.title.icon = icon;
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, panel.id);
    app.commands.addCommand('kernelbench:open-runs', {
      label: 'Show Kernel Runs',
      execute: () => app.shell.activateById(panel.id)
    });
  }
};

export default plugin;
