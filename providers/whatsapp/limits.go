package whatsapp

import "github.com/flowgate/flowgate/engine/msg"

// Name is the channel's name: in webhook paths, provider files and flows' channels lists.
const Name = msg.WhatsApp

// Limits returns what a WhatsApp message can carry, for flow validation.
func Limits() msg.Limits {
	return msg.Limits{
		Text:              MaxTextLength,
		Templates:         true,
		Buttons:           MaxButtons,
		ButtonTitle:       MaxButtonTitleLength,
		ButtonBody:        MaxButtonBodyLength,
		ListRows:          MaxRows,
		ListSections:      MaxSections,
		ListButton:        MaxListButtonLength,
		RowTitle:          MaxRowTitleLength,
		RowDescription:    MaxRowDescLength,
		SectionTitle:      MaxSectionTitleLength,
		ListBody:          MaxListBodyLength,
		HeaderText:        MaxHeaderTextLength,
		FooterText:        MaxFooterLength,
		Caption:           MaxCaptionLength,
		InteractiveHeader: true,
		Location:          true,
	}
}
